/* The A extension (LR/SC and AMOs), one implementation for both engines:
 * guest memory is reached through the hart's write TLB or mmu_amo_ptr, and
 * every operation is a host atomic, so several vCPU threads see RVWMO's
 * guarantees (x86's locked instructions are sequentially consistent). */
#include "cpu/hart.h"

#define SX32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))

static int amo_ptr(struct hart *h, uint64_t va, unsigned size, void **p, uint64_t *tval)
{
    const struct tlb_entry *e =
        &h->tlb[tlb_mode(hart_data_priv(h))][TLB_W][(va >> 12) & (TLB_SIZE - 1)];
    if (e->tag == (va & (~0xfffull | ((size & 0xff) - 1)))) {
        *p = (void *)(uintptr_t)(va + e->addend);
        return 0;
    }
    uint8_t *hp;
    int r = mmu_amo_ptr(h, va, size, &hp, tval);
    *p = hp;
    return r;
}

#define MINMAX(T, p, b, pick)                                                                      \
    ({                                                                                             \
        T o_ = __atomic_load_n((T *)(p), __ATOMIC_RELAXED), b_ = (T)(b), n_;                       \
        do {                                                                                       \
            n_ = (pick);                                                                           \
        } while (!__atomic_compare_exchange_n((T *)(p), &o_, n_, 1, __ATOMIC_SEQ_CST,              \
                                              __ATOMIC_RELAXED));                                  \
        (uint64_t) o_;                                                                             \
    })

static uint64_t amo_w(unsigned op, void *p, uint32_t b)
{
    uint32_t *q = p;
    switch (op) {
    case OP_AMOSWAP_W: return __atomic_exchange_n(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOADD_W: return __atomic_fetch_add(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOXOR_W: return __atomic_fetch_xor(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOAND_W: return __atomic_fetch_and(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOOR_W: return __atomic_fetch_or(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOMIN_W: return MINMAX(int32_t, p, b, o_ < b_ ? o_ : b_);
    case OP_AMOMAX_W: return MINMAX(int32_t, p, b, o_ > b_ ? o_ : b_);
    case OP_AMOMINU_W: return MINMAX(uint32_t, p, b, o_ < b_ ? o_ : b_);
    default: return MINMAX(uint32_t, p, b, o_ > b_ ? o_ : b_);
    }
}

static uint64_t amo_d(unsigned op, void *p, uint64_t b)
{
    uint64_t *q = p;
    switch (op) {
    case OP_AMOSWAP_D: return __atomic_exchange_n(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOADD_D: return __atomic_fetch_add(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOXOR_D: return __atomic_fetch_xor(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOAND_D: return __atomic_fetch_and(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOOR_D: return __atomic_fetch_or(q, b, __ATOMIC_SEQ_CST);
    case OP_AMOMIN_D: return MINMAX(int64_t, p, b, o_ < b_ ? o_ : b_);
    case OP_AMOMAX_D: return MINMAX(int64_t, p, b, o_ > b_ ? o_ : b_);
    case OP_AMOMINU_D: return MINMAX(uint64_t, p, b, o_ < b_ ? o_ : b_);
    default: return MINMAX(uint64_t, p, b, o_ > b_ ? o_ : b_);
    }
}

int hart_amo(struct hart *h, unsigned op, uint64_t va, uint64_t src, uint64_t *rd, uint64_t *tval)
{
    int dbl = op >= OP_LR_D;
    unsigned size = dbl ? 8 : 4;
    int lr = op == OP_LR_W || op == OP_LR_D;
    void *p;
    int r = amo_ptr(h, va, lr ? 0x100 | size : size, &p, tval);
    if (r) return r;
    if (lr) {
        uint64_t v = dbl ? __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE)
                         : __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE);
        h->resv_addr = va;
        h->resv_val = v;
        h->resv_valid = 1;
        *rd = dbl ? v : SX32(v);
        return 0;
    }
    if (op == OP_SC_W || op == OP_SC_D) {
        int ok = h->resv_valid && h->resv_addr == va;
        if (ok && dbl) {
            uint64_t expect = h->resv_val;
            ok = __atomic_compare_exchange_n((uint64_t *)p, &expect, src, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE);
        } else if (ok) {
            uint32_t expect = (uint32_t)h->resv_val;
            ok = __atomic_compare_exchange_n((uint32_t *)p, &expect, (uint32_t)src, 0,
                                             __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        }
        h->resv_valid = 0;
        *rd = !ok;
        return 0;
    }
    *rd = dbl ? amo_d(op, p, src) : SX32(amo_w(op, p, (uint32_t)src));
    return 0;
}
