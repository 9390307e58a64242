/* Slow paths of translated code (see helpers.h). */
#include "jit/helpers.h"
#include "cpu/hart.h"
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

uint64_t jit_load_slow(struct hart *h, uint64_t va, uint64_t pc, unsigned info)
{
    unsigned size = info & 0xf;
    uint64_t v = 0, tval = 0;
    int r = mmu_load_slow(h, va, size, &v, &tval);
    if (r) {
        h->pc = pc;
        hart_trap(h, (uint64_t)(r - 1), tval, 0);
        h->jit_fault = 1;
        return 0;
    }
    h->jit_fault = 0;
    if ((info & JIT_LOAD_SX) && size < 8) {
        unsigned sh = 64 - 8 * size;
        v = (uint64_t)((int64_t)(v << sh) >> sh);
    }
    return v;
}

int jit_store_slow(struct hart *h, uint64_t va, uint64_t val, uint64_t pc, unsigned size)
{
    uint64_t tval = 0;
    int r = mmu_store_slow(h, va, size, val, &tval);
    if (r) {
        h->pc = pc;
        hart_trap(h, (uint64_t)(r - 1), tval, 0);
        return 1;
    }
    if (h->check | atomic_load_explicit(&h->events, memory_order_relaxed)) return JIT_STORE_EXIT;
    return 0;
}

uint64_t jit_amo_slow(struct hart *h, uint64_t va, uint64_t src, uint64_t pc, const struct insn *d)
{
    uint64_t v = 0, tval = 0;
    int r = hart_amo(h, d->op, va, src, &v, &tval);
    if (r) {
        h->pc = pc;
        hart_trap(h, (uint64_t)(r - 1), tval, 0);
        h->jit_fault = 1;
        return 0;
    }
    h->jit_fault = 0;
    return v;
}

uint64_t jit_csr_slow(struct hart *h, uint64_t src, uint64_t pc, int64_t left, const struct insn *d)
{
    uint64_t old = 0, base = h->instret;
    h->instret = h->jit_instret_end - (uint64_t)left;
    int r = hart_csr_op(h, d, src, &old);
    h->instret = base;
    if (r < 0) {
        h->pc = pc;
        hart_trap(h, EXC_ILLEGAL, d->raw, 0);
        h->jit_fault = 1;
        return 0;
    }
    h->jit_fault = 0;
    return old;
}

int jit_fp_slow(struct hart *h, const struct insn *d)
{
    int r = hart_fp_exec(h, d);
#if defined(__x86_64__)
    unsigned m = _mm_getcsr();
    if (m & 0x3f) _mm_setcsr(m & ~0x3fu);
#endif
    return r;
}
