/* A hart's code cache: one memfd mapped twice, writable at one address and
 * executable at another, so no page is ever writable and executable at
 * once (W^X). Bump allocation; the whole cache is dropped at once (with the
 * decoded blocks that call into it) when it fills or code is invalidated,
 * and its pages go back to the host then, so a VM holds only the code it
 * translated since. */
#ifndef VMON_JIT_CACHE_H
#define VMON_JIT_CACHE_H
#include <stddef.h>
#include <stdint.h>

/* The hart's jump table, at the start of the data pages: indirect jumps
 * (JALR, other pages) find a recent target's translation there, indexed by
 * the guest pc, each entry {pc, host address, fetch key, 0}. Zeroed pages
 * are empty entries: no fetch key is 0 (hart_reset bumps the generations
 * it is made of). */
#define JIT_JC_ENTRIES 4096
#define JIT_JC_BYTES   (JIT_JC_ENTRIES * 32)

struct jit_cache {
    uint8_t *rw, *rx;
    size_t size, used;
    /* Data the translated code reads and writes (per-instruction TLB
     * slots): anonymous read-write pages right after the code, never
     * executable, within reach of RIP-relative operands. */
    uint8_t *data;
    size_t data_size, data_used;
    size_t start; /* bytes of trampoline kept at the start across flushes */
    /* Slow paths and exits ("cold" code) go to the second half of the
     * cache, so that the code blocks run is dense: cold grows from size/2. */
    size_t cold_used;
    uint32_t ev_check; /* bytes of a block's entry that look at events */
    /* The loads' and stores' shared slow-path calls (after the trampoline):
     * a block's stub only sets the access up and calls one. */
    uint32_t load_thunk, store_thunk;
    /* Each half is populated (both views) up to here, and the data pages:
     * jit_cache_ready. */
    size_t ready_hot, ready_cold, ready_data;
    uint64_t flushes, bytes_total, bytes_hot, blocks;
    void *scratch; /* the translator's working state (translate.c), once allocated */
};

int jit_cache_init(struct jit_cache *c, size_t size);
void jit_cache_destroy(struct jit_cache *c);
void jit_cache_flush(struct jit_cache *c);
/* Before a translation: the pages it may write next are there already. */
void jit_cache_ready(struct jit_cache *c);
/* Room left, in bytes, in the fuller of the two halves. */
static inline size_t jit_cache_room(const struct jit_cache *c)
{
    size_t hot = c->size / 2 - c->used, cold = c->size - c->cold_used;
    return hot < cold ? hot : cold;
}
#endif
