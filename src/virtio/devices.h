/* Constructors of the virtio devices. Each takes the virtio-mmio slot the
 * board assigned it (base address and interrupt line), its typed settings
 * (vmm/devcfg.h) and, where it has one, its opened host backend, which it
 * owns from the call on (closed by the device, also when it fails). None
 * parses option strings or knows the board: src/vmm does that
 * (vmm/devices.c). Each returns 0, or -1 with a message in err. */
#ifndef VMON_VIRTIO_DEVICES_H
#define VMON_VIRTIO_DEVICES_H
#include "irq/irq.h"
#include <stddef.h>
#include <stdint.h>
struct vm;
struct blk;
struct chardev;
struct disk_cfg;
struct net_backend;
struct p9_server;

/* Where a virtio-mmio device sits: its registers and its interrupt. */
struct virtio_slot {
    uint64_t base;
    struct irq_line irq;
};

/* virtio-rng, fed by the host's getrandom() (virtio/rng.c). */
int virtio_rng_create(struct vm *vm, const struct virtio_slot *slot, char *err, size_t errlen);
/* virtio-blk over be (virtio/blk.c): read-only and the serial as cfg says. */
int virtio_blk_create(struct vm *vm, const struct virtio_slot *slot, const struct disk_cfg *cfg,
                      struct blk *be, char *err, size_t errlen);
/* virtio-net with this MAC over be (virtio/net.c). */
int virtio_net_create(struct vm *vm, const struct virtio_slot *slot, const uint8_t mac[6],
                      struct net_backend *be, char *err, size_t errlen);
/* virtio-9p serving srv (a host directory over 9P2000.L, virtio/9p.c)
 * under the mount tag (1..64 printable characters). */
int virtio_9p_create(struct vm *vm, const struct virtio_slot *slot, const char *tag,
                     struct p9_server *srv, char *err, size_t errlen);
/* A virtio-console port on be, a file or a listening socket
 * (virtio/console.c); *be is the device's from the call on. */
int virtio_console_create(struct vm *vm, const struct virtio_slot *slot, struct chardev *be,
                          char *err, size_t errlen);
/* A virtio-input power button (virtio/input.c), pressed by vm_power_button. */
int virtio_power_key_create(struct vm *vm, const struct virtio_slot *slot, char *err,
                            size_t errlen);
/* Live migration: let go of (away = 1) or take back every disk's image
 * lock, so the target vmon can open the same files. */
int virtio_blk_handoff(struct vm *vm, int away, char *err, size_t errlen);
/* Grow disk `index` (--disk order) to size bytes while the VM runs. */
int virtio_blk_resize(struct vm *vm, unsigned index, uint64_t size, char *err, size_t errlen);
/* Disk copy for live migration (snap/migrate.c), by disk index in --disk
 * order: the size in bytes; tracking on (every chunk clean) or off; take
 * and clear the chunks (BLK_CHUNK bytes) written since (bit c of word c /
 * 64; returns how many); read what the guest sees; wait until no request
 * is in flight (the vCPUs paused). */
#define BLK_CHUNK (64u << 10)
uint64_t virtio_blk_size(struct vm *vm, unsigned i);
int virtio_blk_track(struct vm *vm, int on);
uint64_t virtio_blk_take_dirty(struct vm *vm, unsigned i, uint64_t *bits, size_t nwords);
int virtio_blk_read_at(struct vm *vm, unsigned i, uint64_t off, void *buf, size_t len);
void virtio_blk_quiesce_all(struct vm *vm);
/* A snapshot that keeps its disks as they are (the VM paused): disk i goes
 * on in a new qcow2 overlay at path whose backing file is its image now;
 * spec gets the --disk option naming it. 0, 1 for a read-only disk (left
 * as it is), -1 with err (the disk as it was). Undo puts the disk back on
 * its image and removes the overlay (a snapshot that failed after it). */
int virtio_blk_to_overlay(struct vm *vm, unsigned i, const char *overlay, char *spec, size_t len,
                          char *err, size_t errlen);
int virtio_blk_undo_overlay(struct vm *vm, unsigned i, char *err, size_t errlen);
/* A virtio-balloon device (virtio/balloon.c), at most one per VM. */
int virtio_balloon_create(struct vm *vm, const struct virtio_slot *slot, char *err, size_t errlen);
/* Ask the guest to keep guest_bytes of its RAM (the rest goes back to the
 * host as the driver inflates). */
int virtio_balloon_set(struct vm *vm, uint64_t guest_bytes, char *err, size_t errlen);
/* The balloon's figures (and a request for fresh guest statistics). */
#define BALLOON_STATS_MAX 16 /* tags of virtio 1.2 5.5.6.3 (swap in/out, faults, free, ...) */
struct balloon_info {
    uint32_t target_pages, actual_pages;
    uint64_t inflated, deflated, reported; /* pages */
    uint64_t stat[BALLOON_STATS_MAX];
    uint32_t stat_valid; /* bit per tag seen */
    uint64_t stats_updates;
};
int virtio_balloon_info(struct vm *vm, struct balloon_info *out);
#endif
