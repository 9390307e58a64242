/* Dirty page logging: which guest RAM pages were written since the log was
 * last read, by harts (stores, AMOs, the page walker's A/D updates) and by
 * devices (every buffer a virtio device fills, the used rings). Off, it
 * costs nothing; on, a write TLB entry is filled only for a page already
 * marked dirty, so the first store to each clean page takes the slow path
 * once per round (the software MMU does what hardware dirty logging needs
 * write protection for). The base of live migration and incremental
 * snapshots. */
#ifndef VMON_MEM_DIRTY_H
#define VMON_MEM_DIRTY_H
#include <stddef.h>
#include <stdint.h>

struct vm;

/* Start logging (every page clean). 0, or -1 with err set. */
int mem_dirty_start(struct vm *vm, char *err, size_t errlen);
/* Stop logging and free the log. */
void mem_dirty_stop(struct vm *vm);
/* Move the log into out (bit p of word p/64 for RAM page p, nwords words,
 * the rest of the log is cleared too) and start a new round; returns how
 * many pages were dirty. Writes that race with the call are in this round
 * or the next, never lost: it returns only when no hart can still write
 * through a translation made before it. */
uint64_t mem_dirty_read_clear(struct vm *vm, uint64_t *out, size_t nwords);
/* RAM pages the log covers, and words a full log needs. */
uint64_t mem_dirty_pages(const struct vm *vm);
/* Something other than a hart's store wrote guest RAM [pa, pa + len): a
 * device or the page walker. Drops translated code made from it and marks
 * it dirty. */
void mem_written(struct vm *vm, uint64_t pa, uint64_t len);
/* A hart is about to be allowed to write the RAM page at pa (mmu.c). */
void mem_dirty_note(struct vm *vm, uint64_t pa);
#endif
