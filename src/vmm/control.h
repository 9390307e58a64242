/* The control channel of a running VM (`vmon run --control`): line
 * commands on a unix socket, one reply line each ("ok ..." or "error ...").
 * The service drives its workers through it; a person can too (socat).
 *   pause      park every vCPU at an instruction boundary  -> ok paused
 *   resume     let them run again                          -> ok running
 *   status     -> ok running|paused|stopping
 *   powerdown  press the guest's power button              -> ok pressed
 *   reset      reboot the machine at once                  -> ok resetting
 *   sched [cap=PCT] [pin=CPUS|-]  the CPU cap (% of one host CPU, 0 none)
 *              and pinning (- unpins), applied at once      -> ok
 *   snapshot PATH  save the whole VM to PATH (paused for the write; it
 *              runs on afterwards unless it was paused)  -> ok saved PATH ...
 *   migrate unix:PATH|tcp:HOST:PORT  live migration to a vmon run --incoming
 *              there; the VM ends here once it runs there -> ok migrated ...
 *   stats      -> ok cpu_ns=N insns=N throttled_ns=N cap=PCT rss_kb=N (host
 *              CPU time in guest code, guest instructions, time waiting for
 *              the cap, vmon's VmRSS); with --mem-limit also
 *              guest_resident_kb=N swap_out=N swap_in=N (guest RAM in host
 *              memory, pages written to the swap file and read back)
 * A connection is greeted with "ready" once the machine is built. When an
 * inherited channel (fd:N, a supervisor's) closes, vmon shuts the VM down
 * as SIGTERM does.
 * With --incoming and an inherited channel, vmon tells its supervisor how
 * the migration goes before "ready": "incoming ADDR" once it listens,
 * "machine OPT" for each of the machine's options once the source has sent
 * them (none if one cannot go on a line), then "receiving". */
#ifndef VMON_CONTROL_H
#define VMON_CONTROL_H
#include <stddef.h>
struct vm;
struct vm_control;
/* spec: "fd:N" (an inherited connected socket) or a path to listen on. */
struct vm_control *vm_control_start(struct vm *vm, const char *spec, char *err, size_t errlen);
void vm_control_stop(struct vm_control *c);
/* N for spec "fd:N", else -1. */
int vm_control_fd(const char *spec);
/* One line to an inherited channel (spec "fd:N"; NULL or a path: nothing
 * sent). -1 if it holds a control character (not sent) or cannot go. */
int vm_control_note(const char *spec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
