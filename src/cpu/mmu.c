/* Address translation (Sv39/Sv48/Sv57, privileged spec 4.3-4.6), physical
 * memory protection (3.7) and the slow paths of guest memory access. */
#include "cpu/hart.h"
#include "vmm/vm.h"
#include "mem/dirty.h"
#include "mem/guest.h"
#include "mem/swap.h"
#include "mem/share.h"
#include <string.h>

#define PTE_V        (1ull << 0)
#define PTE_R        (1ull << 1)
#define PTE_W        (1ull << 2)
#define PTE_X        (1ull << 3)
#define PTE_U        (1ull << 4)
#define PTE_A        (1ull << 6)
#define PTE_D        (1ull << 7)
#define PTE_PPN_MASK 0x003ffffffffffc00ull
#define PTE_RESERVED 0xffc0000000000000ull /* N, PBMT, reserved: not implemented */

enum { ACC_R = 0, ACC_W = 1, ACC_X = 2 };

static unsigned fault_cause(int access, int page)
{
    if (access == ACC_X) return page ? EXC_INSN_PAGE : EXC_INSN_ACCESS;
    if (access == ACC_W) return page ? EXC_STORE_PAGE : EXC_STORE_ACCESS;
    return page ? EXC_LOAD_PAGE : EXC_LOAD_ACCESS;
}

void mmu_flush_tlb(struct hart *h)
{
    if (h->tlb_nfill > TLB_FILLS) {
        memset(h->tlb, 0xff, sizeof(h->tlb));
    } else {
        struct tlb_entry *all = &h->tlb[0][0][0];
        for (unsigned i = 0; i < h->tlb_nfill; i++)
            all[h->tlb_fill[i]].tag = ~0ull;
    }
    h->tlb_nfill = 0;
    h->tlb_gen++;
    h->stats.tlb_flushes++;
}

void mmu_flush_page(struct hart *h, uint64_t va)
{
    unsigned i = (va >> 12) & (TLB_SIZE - 1);
    h->tlb_gen++;
    for (unsigned m = 0; m < 3; m++)
        for (unsigned a = 0; a < 3; a++)
            if (h->tlb[m][a][i].tag == (va & ~0xfffull)) h->tlb[m][a][i].tag = ~0ull;
}

/* ---- pages holding code ---- */

static _Atomic uint64_t *code_word(const struct vm *vm, uint64_t pa, uint64_t *bit)
{
    if (pa - vm->ram_base >= vm->ram_size || !vm->code_bits) return NULL;
    uint64_t pg = (pa - vm->ram_base) >> 12;
    *bit = 1ull << (pg & 63);
    return &vm->code_bits[pg >> 6];
}

void mmu_note_code(struct hart *h, uint64_t pa)
{
    uint64_t bit;
    _Atomic uint64_t *w = code_word(h->vm, pa, &bit);
    if (!w || (atomic_load_explicit(w, memory_order_relaxed) & bit)) return;
    atomic_fetch_or(w, bit);
    /* No write translation of the page may stay in any TLB: this hart's
     * go now, the others' at their next look at their events. */
    uint64_t page = pa & ~0xfffull;
    h->tlb_gen++;
    for (unsigned m = 0; m < 3; m++)
        for (unsigned i = 0; i < TLB_SIZE; i++)
            if (h->tlb[m][TLB_W][i].paddr == page) h->tlb[m][TLB_W][i].tag = ~0ull;
    for (unsigned i = 0; i < h->vm->ncpus; i++)
        if (h->vm->harts[i] && h->vm->harts[i] != h)
            atomic_fetch_or(&h->vm->harts[i]->events, HART_EV_TLB);
}

/* A write is about to reach a page that holds code: it stops being a code
 * page and every hart drops its translations (at its next look at its
 * events; this hart leaves the instruction's block right after it).
 * Returns whether the page held code. */
static int code_page_written(struct vm *vm, uint64_t pa)
{
    uint64_t bit;
    _Atomic uint64_t *w = code_word(vm, pa, &bit);
    if (!w || !(atomic_load_explicit(w, memory_order_relaxed) & bit)) return 0;
    atomic_fetch_and(w, ~bit);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->harts[i]) hart_code_written(vm->harts[i], pa & ~0xfffull);
    return 1;
}

static int code_written(struct hart *h, uint64_t pa)
{
    if (!code_page_written(h->vm, pa)) return 0;
    h->stats.code_writes++;
    return 1;
}

void mmu_code_range_written(struct vm *vm, uint64_t pa, uint64_t len)
{
    if (!len) return;
    for (uint64_t p = pa & ~0xfffull; p < pa + len; p += 4096)
        code_page_written(vm, p);
}

/* ---- PMP (3.7) ---- */

static int pmp_range(const struct hart *h, unsigned i, uint64_t *lo, uint64_t *hi)
{
    uint8_t cfg = h->pmpcfg[i];
    unsigned a = (cfg >> 3) & 3;
    uint64_t addr = h->pmpaddr[i];
    switch (a) {
    case 1: /* TOR */
        *lo = i ? h->pmpaddr[i - 1] << 2 : 0;
        *hi = addr << 2;
        return *lo < *hi;
    case 2: /* NA4 */
        *lo = addr << 2;
        *hi = *lo + 4;
        return 1;
    case 3: { /* NAPOT: trailing ones give the size */
        unsigned t = (unsigned)__builtin_ctzll(~addr);
        if (t >= 54) {
            *lo = 0;
            *hi = ~0ull;
            return 1;
        }
        uint64_t size = 8ull << t;
        *lo = (addr << 2) & ~(size - 1);
        *hi = *lo + size;
        return 1;
    }
    }
    return 0;
}

int pmp_check(struct hart *h, uint64_t pa, unsigned size, int access, unsigned priv)
{
    if (!h->pmp_active) return priv == PRV_M;
    uint64_t end = pa + size; /* exclusive */
    for (unsigned i = 0; i < PMP_COUNT; i++) {
        uint64_t lo, hi;
        if (!pmp_range(h, i, &lo, &hi)) continue;
        int any = pa < hi && end > lo;
        if (!any) continue;
        if (!(pa >= lo && end <= hi)) return 0; /* partial match fails */
        uint8_t cfg = h->pmpcfg[i];
        if (priv == PRV_M && !(cfg & 0x80)) return 1;
        return (cfg >> access) & 1;
    }
    return priv == PRV_M;
}

/* ---- page-table walk (4.3.2) ---- */

struct xlate {
    uint64_t pa;
    int tlb_ok; /* page may be cached for this access */
};

/* Implicit page-table accesses are checked by PMP as S-mode accesses. */
static int pte_load(struct hart *h, uint64_t pa, uint64_t **ptr)
{
    const struct mem_region *m = bus_find_mem(&h->vm->bus, pa, 8);
    if (!m || !pmp_check(h, pa, 8, ACC_R, PRV_S)) return -1;
    *ptr = (uint64_t *)(void *)(m->host + (pa - m->base));
    return 0;
}

/* May an A/D update be stored to the PTE at pa? */
static int pte_store_ok(struct hart *h, uint64_t pa)
{
    const struct mem_region *m = bus_find_mem(&h->vm->bus, pa, 8);
    return m && !m->readonly && pmp_check(h, pa, 8, ACC_W, PRV_S);
}

/* Translate va for access with privilege priv. Returns 0 or cause+1. */
static int translate(struct hart *h, uint64_t va, int access, unsigned priv, struct xlate *out)
{
    uint64_t satp = h->satp;
    unsigned mode = (unsigned)(satp >> 60);
    out->tlb_ok = 1;
    if (priv == PRV_M || mode == 0) {
        out->pa = va;
        return 0;
    }
    int levels = mode == 8 ? 3 : mode == 9 ? 4 : 5;
    int vabits = 12 + 9 * levels;
    int64_t sva = (int64_t)(va << (64 - vabits)) >> (64 - vabits);
    if ((uint64_t)sva != va) return fault_cause(access, 1) + 1;

    uint64_t base = (satp & ((1ull << 44) - 1)) << 12;
    uint64_t mxr = h->mstatus & MSTATUS_MXR, sum = h->mstatus & MSTATUS_SUM;
    for (int i = levels - 1;; i--) {
        uint64_t vpn = (va >> (12 + 9 * i)) & 0x1ff;
        uint64_t *pp, pte_pa = base + vpn * 8;
        if (pte_load(h, pte_pa, &pp) < 0) return fault_cause(access, 0) + 1;
    again:;
        uint64_t pte = __atomic_load_n(pp, __ATOMIC_ACQUIRE);
        if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte & PTE_RESERVED))
            return fault_cause(access, 1) + 1;
        uint64_t ppn = (pte & PTE_PPN_MASK) >> 10;
        if (!(pte & (PTE_R | PTE_X))) {
            if (i == 0) return fault_cause(access, 1) + 1;
            base = ppn << 12;
            continue;
        }
        /* Leaf: permission checks (4.3.1). */
        if (priv == PRV_U && !(pte & PTE_U)) return fault_cause(access, 1) + 1;
        if (priv == PRV_S && (pte & PTE_U) && (access == ACC_X || !sum))
            return fault_cause(access, 1) + 1;
        int ok = access == ACC_X   ? !!(pte & PTE_X)
                 : access == ACC_W ? !!(pte & PTE_W)
                                   : ((pte & PTE_R) || (mxr && (pte & PTE_X)));
        if (!ok) return fault_cause(access, 1) + 1;
        if (i > 0 && (ppn & ((1ull << (9 * i)) - 1))) return fault_cause(access, 1) + 1;
        uint64_t want = PTE_A | (access == ACC_W ? PTE_D : 0);
        if ((pte & want) != want) {
            /* The A/D update is a store to the PTE: if PMP or the memory
             * forbids it, an access fault of the original type (4.3.2). */
            if (!pte_store_ok(h, pte_pa)) return fault_cause(access, 0) + 1;
            if (!__atomic_compare_exchange_n(pp, &pte, pte | want, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE))
                goto again;
            mem_walker_wrote(h->vm, pte_pa);
        }
        uint64_t off_mask = (1ull << (12 + 9 * i)) - 1;
        out->pa = ((ppn << 12) & ~off_mask) | (va & off_mask);
        /* A read mapping of a clean page must not be cached for writes; the
         * write path checks D again through its own TLB. */
        return 0;
    }
}

int hart_debug_bp(const struct hart *h, uint64_t pc)
{
    const struct hart_debug *d = h->dbg;
    if (!d || h->dbg_ignore) return 0;
    for (unsigned i = 0; i < d->nbp; i++)
        if (d->bp[i] == pc) return 1;
    return 0;
}

/* 1 if [va, va+size) hits a watchpoint for this access; 2 if only the page
 * holds one (so the page must stay out of the TLB). */
static int watch_check(struct hart *h, uint64_t va, unsigned size, int access)
{
    const struct hart_debug *d = h->dbg;
    if (!d || !d->nwatch || access == ACC_X) return 0;
    int page = 0;
    unsigned want = access == ACC_W ? DBG_WATCH_W : DBG_WATCH_R;
    for (unsigned i = 0; i < d->nwatch; i++) {
        uint64_t a = d->watch[i].addr, e = a + d->watch[i].len;
        if (va < e && a < va + size && (d->watch[i].type & want) && !h->dbg_ignore) {
            h->dbg_watch_va = va;
            h->dbg_watch_type = want;
            return 1;
        }
        if ((va & ~0xfffull) < e && a < (va & ~0xfffull) + 4096) page = 2;
    }
    return page;
}

int mmu_debug_translate(struct hart *h, uint64_t va, uint64_t *pa)
{
    unsigned priv = hart_data_priv(h);
    unsigned mode = (unsigned)(h->satp >> 60);
    if (priv == PRV_M || mode == 0) {
        *pa = va;
        return 0;
    }
    int levels = mode == 8 ? 3 : mode == 9 ? 4 : 5;
    uint64_t base = (h->satp & ((1ull << 44) - 1)) << 12;
    for (int i = levels - 1; i >= 0; i--) {
        uint64_t *pp;
        if (pte_load(h, base + ((va >> (12 + 9 * i)) & 0x1ff) * 8, &pp) < 0) return -1;
        uint64_t pte = __atomic_load_n(pp, __ATOMIC_ACQUIRE);
        if (!(pte & PTE_V)) return -1;
        uint64_t ppn = (pte & PTE_PPN_MASK) >> 10;
        if (pte & (PTE_R | PTE_X)) {
            uint64_t off_mask = (1ull << (12 + 9 * i)) - 1;
            *pa = ((ppn << 12) & ~off_mask) | (va & off_mask);
            return 0;
        }
        base = ppn << 12;
    }
    return -1;
}

/* Resolve va to a physical address for access, with PMP on size bytes.
 * Fills the TLB when the whole page is RAM with uniform permission. */
static int access_pa(struct hart *h, uint64_t va, unsigned size, int access, unsigned priv,
                     uint64_t *pa, uint64_t *tval)
{
    int watched = watch_check(h, va, size, access);
    if (watched == 1) return MMU_DEBUG_HIT;
    struct xlate x;
    int r = translate(h, va, access, priv, &x);
    if (r) {
        *tval = va;
        return r;
    }
    if (!pmp_check(h, x.pa, size, access, priv)) {
        *tval = va;
        return fault_cause(access, 0) + 1;
    }
    *pa = x.pa;
    uint64_t page = x.pa & ~0xfffull;
    if (h->vm->swap) mem_access_note(h->vm, x.pa);
    if (access == ACC_W && code_written(h, x.pa)) watched = 1; /* no TLB entry this time */
    if (access == ACC_W) {
        mem_dirty_note(h->vm, x.pa);
        if (h->vm->share) mem_share_written(h->vm, x.pa, 0);
    }
    const struct mem_region *m = bus_find_mem(&h->vm->bus, page, 4096);
    if (m && !(access == ACC_W && m->readonly) && !watched &&
        pmp_check(h, page, 4096, access, priv)) {
        struct tlb_entry *e = &h->tlb[tlb_mode(priv)][access][(va >> 12) & (TLB_SIZE - 1)];
        e->tag = va & ~0xfffull;
        if (h->tlb_nfill < TLB_FILLS)
            h->tlb_fill[h->tlb_nfill++] =
                (uint16_t)((tlb_mode(priv) * 3 + (unsigned)access) << TLB_BITS |
                           ((va >> 12) & (TLB_SIZE - 1)));
        else
            h->tlb_nfill = TLB_FILLS + 1;
        e->addend = (uintptr_t)(m->host + (page - m->base)) - (uintptr_t)(va & ~0xfffull);
        e->paddr = page;
    }
    return 0;
}

static int load_one(struct hart *h, uint64_t va, unsigned size, uint64_t *val, uint64_t *tval)
{
    uint64_t pa;
    int r = access_pa(h, va, size, ACC_R, hart_data_priv(h), &pa, tval);
    if (r) return r;
    if (bus_read(&h->vm->bus, pa, size, val) < 0) {
        *tval = va;
        return EXC_LOAD_ACCESS + 1;
    }
    return 0;
}

static int store_one(struct hart *h, uint64_t va, unsigned size, uint64_t val, uint64_t *tval)
{
    uint64_t pa;
    int r = access_pa(h, va, size, ACC_W, hart_data_priv(h), &pa, tval);
    if (r) return r;
    if (bus_write(&h->vm->bus, pa, size, val) < 0) {
        *tval = va;
        return EXC_STORE_ACCESS + 1;
    }
    /* A store that hits a reserved address breaks our own reservation. */
    return 0;
}

int mmu_load_slow(struct hart *h, uint64_t va, unsigned size, uint64_t *val, uint64_t *tval)
{
    if (!(va & (size - 1))) return load_one(h, va, size, val, tval);
    /* Misaligned: emulated byte by byte (allowed by the spec; the whole
     * access is checked first so a fault leaves no partial effect). */
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t b;
        int r = load_one(h, va + i, 1, &b, tval);
        if (r) return r;
        v |= b << (8 * i);
    }
    *val = v;
    return 0;
}

int mmu_store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val, uint64_t *tval)
{
    if (!(va & (size - 1))) return store_one(h, va, size, val, tval);
    unsigned priv = hart_data_priv(h);
    uint64_t pa;
    for (unsigned i = 0; i < size; i++) { /* probe every byte first */
        int r = access_pa(h, va + i, 1, ACC_W, priv, &pa, tval);
        if (r) return r;
        if (!bus_find_mem(&h->vm->bus, pa, 1)) {
            *tval = va + i;
            return EXC_STORE_ACCESS + 1;
        }
    }
    for (unsigned i = 0; i < size; i++) {
        int r = store_one(h, va + i, 1, (val >> (8 * i)) & 0xff, tval);
        if (r) return r;
    }
    return 0;
}

int mmu_fetch(struct hart *h, uint64_t va, uint64_t *pa, uint8_t **host, uint64_t *tval)
{
    struct tlb_entry *e = &h->tlb[tlb_mode(h->priv)][TLB_X][(va >> 12) & (TLB_SIZE - 1)];
    if (e->tag == (va & ~0xfffull)) {
        *pa = e->paddr | (va & 0xfff);
        *host = (uint8_t *)(uintptr_t)(va + e->addend);
        return 0;
    }
    int r = access_pa(h, va, 2, ACC_X, h->priv, pa, tval);
    if (r) return r;
    const struct mem_region *m = bus_find_mem(&h->vm->bus, *pa, 2);
    if (!m) {
        *tval = va;
        return EXC_INSN_ACCESS + 1;
    }
    *host = m->host + (*pa - m->base);
    return 0;
}

int mmu_amo_ptr(struct hart *h, uint64_t va, unsigned size, uint8_t **host, uint64_t *tval)
{
    int load_only = size & 0x100; /* LR */
    size &= 0xff;
    if (va & (size - 1)) {
        *tval = va;
        return (load_only ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED) + 1;
    }
    uint64_t pa;
    int acc = load_only ? ACC_R : ACC_W;
    int r = access_pa(h, va, size, acc, hart_data_priv(h), &pa, tval);
    if (r) return r;
    const struct mem_region *m = bus_find_mem(&h->vm->bus, pa, size);
    if (!m || (m->readonly && !load_only)) {
        *tval = va;
        return (load_only ? EXC_LOAD_ACCESS : EXC_STORE_ACCESS) + 1;
    }
    *host = m->host + (pa - m->base);
    return 0;
}
