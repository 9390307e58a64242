/* Whole-VM snapshots: every hart, every device on the bus, the boot ROM,
 * guest time and RAM, plus the `vmon run` options that rebuild the same
 * machine (so `vmon restore FILE` needs nothing else). */
#ifndef VMON_VMSNAP_H
#define VMON_VMSNAP_H
#include <stddef.h>
#include <stdint.h>
#include "snap/snap.h"

struct vm;
#define VMSNAP_ARG_MAX 4096 /* bytes in one stored option */

/* Save a VM whose vCPUs are all parked (vm_pause) or stopped, with
 * vm->machine_args; devices are held still and quiesced by their ops and
 * disks flushed. 0, or -1 with err. */
int vmsnap_save(struct vm *vm, const char *path, char *err, size_t errlen);
/* Pause a running VM, save it, and let it run again if it was running.
 * With fd >= 0 the snapshot goes into fd (a file its caller opened and
 * puts in place at path, which names it in messages). overlays: its
 * writable disks then go on in new qcow2 overlays (PATH.diskN.qcow2,
 * backed by their images), so the images stay as the snapshot needs them
 * (restore it with overlays of your own on them); not in a worker whose
 * file system is confined (it cannot make files by path). */
int vmsnap_save_live(struct vm *vm, const char *path, int fd, int overlays, char *err,
                     size_t errlen);
/* The pieces, for live migration (migrate.c): hold (1) or let go (0) the
 * devices' own threads; the machine record alone; the whole state (machine,
 * harts, devices, ROM) without RAM, from a paused VM with held devices. */
void vmsnap_hold(struct vm *vm, int on);
/* One byte per RAM page, 0 for a page the guest never touched (it reads
 * as zeros and need not be read), or NULL when unknown (RAM mapped from a
 * snapshot, no pagemap): then every page counts. free() it. */
uint8_t *vmsnap_touched(const struct vm *vm);
void vmsnap_machine(struct vm *vm, struct snap_w *w);
void vmsnap_state(struct vm *vm, struct snap_w *w);
/* The run options stored in an open snapshot: *args (malloc'd array of
 * malloc'd strings; vmsnap_free_args) and the count. 0 or -1 with err. */
int vmsnap_args(const struct snap_file *f, char ***args, unsigned *nargs, char *err, size_t errlen);
void vmsnap_free_args(char **args, unsigned nargs);
/* Load an open snapshot into a freshly built VM made from its options
 * (same CPUs, RAM and devices): RAM is mapped copy-on-write from the file,
 * harts and devices take their saved state, guest time continues from the
 * moment of the snapshot. 0, or -1 with err (then the VM must not run).
 * An f with fd -1 (snap_from_state) loads no RAM: it is there already. */
int vmsnap_load(struct vm *vm, const struct snap_file *f, char *err, size_t errlen);
#endif
