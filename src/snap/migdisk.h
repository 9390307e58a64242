/* Disks copied by a live migration (`migrate ADDR copy-disks`), for a
 * target that does not share the source's storage. The source tracks the
 * chunks (BLK_CHUNK bytes) the guest writes from the start, sends every
 * chunk of every disk while the guest runs, then the chunks written since
 * with each round of RAM, and the last ones with the VM paused and its
 * disks quiet. The target writes them, through its own block layer (so
 * the formats may differ), to the disks its --disk options name, in
 * order, before its devices open them.
 *
 * Stream (within migrate.h's):
 *   'D' u32 n, n x u64 size       the disks, once, before any chunk
 *   'B' u32 disk u64 offset u32 length u8 zero, length bytes unless zero
 */
#ifndef VMON_SNAP_MIGDISK_H
#define VMON_SNAP_MIGDISK_H
#include <stddef.h>
#include <stdint.h>

struct vm;
struct blk;
struct migrate_stats;
struct migdisk_src;

/* Source: start tracking and announce the disks (NULL with err). */
struct migdisk_src *migdisk_src_start(struct vm *vm, int fd, struct migrate_stats *st, char *err,
                                      size_t errlen);
/* Send every chunk; send the chunks written since the last call (*left:
 * how many). 0, or -1 with errno. */
int migdisk_bulk(struct migdisk_src *s);
int migdisk_dirty(struct migdisk_src *s, uint64_t *left);
/* Few enough chunks left to send with the VM paused. */
int migdisk_converged(uint64_t chunks);
void migdisk_src_end(struct migdisk_src *s);

/* Target. */
struct migdisk_dst {
    char *const *specs; /* --disk options, in order */
    unsigned nspecs, n;
    uint64_t size[16];
    struct blk *be[16];
    uint8_t *buf;
};
void migdisk_dst_set(struct migdisk_dst *t, char *const *specs, unsigned n);
/* After 'D' / 'B': 0, or -1 with err naming what is wrong. */
int migdisk_recv_hello(struct migdisk_dst *t, int fd, char *err, size_t errlen);
int migdisk_recv_chunk(struct migdisk_dst *t, int fd, char *err, size_t errlen);
/* Flush and close the disks written (before the devices open them). */
int migdisk_dst_close(struct migdisk_dst *t, char *err, size_t errlen);
#endif
