/* Live migration: a running VM moves to another vmon over a stream (a unix
 * socket or TCP). Pre-copy: all of RAM is sent while the guest runs with
 * dirty logging on, then the pages it wrote meanwhile, round after round
 * until few are left; then the VM is paused, the last pages and the whole
 * device and hart state (the snapshot records) go, and once the target has
 * loaded them and says so, the source stops and the target runs. Disks
 * are the same files on both sides (shared storage: the source flushes
 * them before the state is sent, and the target opens them only then), or
 * copied (copy-disks: migdisk.h).
 *
 * Stream (all integers little-endian):
 *   "VMONMIGR" u32 version u64 ram_size u32 ncpus u64 n  + n bytes: the
 *     machine record (the `vmon run` options, as in a snapshot)
 *   'P' u32 count, then count x (u64 page number | ZERO << 63, and 4096
 *     bytes unless ZERO)          pages, any number of times
 *   'S' u64 n + n bytes + u32 crc32   the state records; the end
 * and back from the target: 'K' (running), or 'E' u16 n + n bytes (why
 * not; the source then runs on). The target checks every field: a
 * malformed or hostile stream ends the migration with a message, never
 * a wrong machine. */
#ifndef VMON_MIGRATE_H
#define VMON_MIGRATE_H
#include <stddef.h>
#include <stdint.h>

struct vm;
struct snap_file;

struct migrate_stats {
    unsigned rounds;
    uint64_t pages, bytes;        /* pages and bytes sent */
    double total_ms, downtime_ms; /* whole migration; paused until the target took over */
};

/* Source: migrate vm to addr ("unix:PATH" or "tcp:HOST:PORT"); with
 * copy_disks its disks go too (migdisk.h), else the target opens the same
 * files. On success the VM is left paused and the caller ends it; on
 * failure it runs on (if it was running). 0, or -1 with err. */
int migrate_send(struct vm *vm, const char *addr, int copy_disks, struct migrate_stats *st,
                 char *err, size_t errlen);

/* Target side, in three steps around building the machine. */
struct migrate_in;
/* Listen on addr ("unix:PATH" or "tcp:[HOST]:PORT"): the socket, or -1
 * with err. */
int migrate_listen(const char *addr, char *err, size_t errlen);
/* Take one connection on lfd (closed, and a unix socket's file removed,
 * whatever happens), read its hello: *args and *nargs are the machine's
 * options (free with vmsnap_free_args). If watch_fd (>= 0: a supervisor's
 * socket) becomes readable or closes first, give up. NULL with err. */
struct migrate_in *migrate_accept(int lfd, const char *addr, int watch_fd, char ***args,
                                  unsigned *nargs, char *err, size_t errlen);
/* The disks a copy of the source's goes to: its --disk options, in order
 * (specs must live until migrate_close). */
void migrate_set_disks(struct migrate_in *mi, char *const *specs, unsigned n);
/* Receive RAM into the freshly created vm until the state arrives; the
 * state is returned in f (snap_from_state). 0, or -1 with err. */
int migrate_receive(struct migrate_in *mi, struct vm *vm, struct snap_file *f, char *err,
                    size_t errlen);
/* Tell the source how loading the state went (err NULL: running). */
void migrate_reply(struct migrate_in *mi, const char *err);
void migrate_close(struct migrate_in *mi);
#endif
