/* The interpreter: decoded blocks, threaded dispatch (computed goto), TLB
 * fast paths for loads and stores. Blocks are cached by guest physical
 * address; FENCE.I (local or remote) flushes the cache, as the ISA requires
 * software to do before executing modified code. */
#include "cpu/hart.h"
#include "cpu/fpu.h"
#include "jit/translate.h"
#include "jit/dump.h"
#include "mem/guest.h"
#include "vmm/vm.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define BCACHE_ARENA       (16u << 20)
#define BCACHE_SLOTS_BYTES ((size_t)sizeof(struct block *) << BCACHE_BITS)
#define JIT_CACHE_SIZE     (32u << 20)
#define JIT_BLOCK_MAX      (32u << 10) /* bytes of code one block can take at most */
#define JIT_SLICE          (1 << 13)   /* instructions translated code runs between polls */
/* Default runs of a block before it is translated. A boot runs much of
 * its code a few dozen times at most: translating a block costs as much
 * as interpreting it some tens of times (the demo boot on 1/4/8 vCPUs is
 * 20-35% faster at 64 than at 2), and hot loops pass 64 at once. */
#define JIT_HOT     64
#define POLL_BLOCKS 2048
/* PAUSE hints in one hart_run call that mean the guest spins waiting for
 * another vCPU (a lock holder that may not be running): hand the host CPU
 * over, as pause-loop exiting does on hardware hypervisors. */
#define PAUSE_YIELD 128

int hart_init(struct hart *h, struct vm *vm, unsigned id)
{
    memset(h, 0, sizeof(*h));
    h->vm = vm;
    h->id = id;
    h->bc.arena_size = BCACHE_ARENA;
    h->bc.arena = malloc(BCACHE_ARENA);
    if (!h->bc.arena) return -1;
    void *slots = mmap(NULL, BCACHE_SLOTS_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (slots == MAP_FAILED) return -1;
    h->bc.slot = slots;
    pthread_mutex_init(&h->code_lock, NULL);
#if defined(__x86_64__) /* the translator emits x86-64; elsewhere the interpreter runs alone */
    if (vm->cfg.engine == VM_ENGINE_JIT) {
        if (jit_cache_init(&h->jit, JIT_CACHE_SIZE) < 0) return -1;
        jit_cache_start(&h->jit);
    }
#endif
    hart_reset(h, VM_RAM_BASE);
    return 0;
}

void hart_destroy(struct hart *h)
{
    free(h->bc.arena);
    h->bc.arena = NULL;
    if (h->bc.slot) munmap(h->bc.slot, BCACHE_SLOTS_BYTES);
    h->bc.slot = NULL;
    pthread_mutex_destroy(&h->code_lock);
    jit_cache_destroy(&h->jit);
}

static void bcache_flush(struct bcache *bc)
{
    /* back to zero pages: a hart that never runs much never holds them */
    madvise(bc->slot, BCACHE_SLOTS_BYTES, MADV_DONTNEED);
    bc->arena_used = 0;
    bc->flushes++;
}

/* Forget the decoded blocks (and so their translations) that start in
 * one physical page: its 2048 possible block starts have consecutive
 * slots. Translated code only chains within a page, so nothing else
 * jumps into the dropped code, which stays unused until the next flush. */
static void bcache_drop_page(struct bcache *bc, uint64_t page)
{
    unsigned first = (unsigned)((page >> 1) & ((1u << BCACHE_BITS) - 1));
    for (unsigned i = 0; i < 2048; i++) {
        struct block *b = bc->slot[first + i];
        if (b && (b->paddr & ~0xfffull) == page) bc->slot[first + i] = NULL;
    }
}

void hart_code_written(struct hart *h, uint64_t page)
{
    pthread_mutex_lock(&h->code_lock);
    unsigned n = h->n_code_inval;
    int seen = 0;
    for (unsigned i = 0; i < n; i++)
        seen |= h->code_inval[i] == page;
    if (!seen && n < sizeof(h->code_inval) / sizeof(h->code_inval[0]))
        h->code_inval[h->n_code_inval++] = page;
    else if (!seen)
        h->code_inval_all = 1;
    pthread_mutex_unlock(&h->code_lock);
    atomic_fetch_or(&h->events, HART_EV_CODE);
}

static void drop_written_code(struct hart *h)
{
    uint64_t pages[16];
    pthread_mutex_lock(&h->code_lock);
    unsigned n = h->n_code_inval;
    int all = h->code_inval_all;
    for (unsigned i = 0; i < n; i++)
        pages[i] = h->code_inval[i];
    h->n_code_inval = 0;
    h->code_inval_all = 0;
    pthread_mutex_unlock(&h->code_lock);
    if (all) {
        hart_flush_code(h);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        bcache_drop_page(&h->bc, pages[i]);
    h->code_gen++;
}

void hart_reset(struct hart *h, uint64_t pc)
{
    memset(h->x, 0, sizeof(h->x));
    memset(h->f, 0, sizeof(h->f));
    h->pc = pc;
    h->priv = PRV_M;
    /* MXL=64; extensions A C D F I M S U (3.1.1). */
    h->misa = (2ull << 62) | (1u << 0) | (1u << 2) | (1u << 3) | (1u << 5) | (1u << 8) |
              (1u << 12) | (1u << 18) | (1u << 20);
    h->mstatus = (2ull << 32) | (2ull << 34); /* UXL = SXL = 64 */
    h->medeleg = h->mideleg = h->mie = h->mip = 0;
    h->mtvec = h->mscratch = h->mepc = h->mcause = h->mtval = 0;
    h->mcounteren = h->menvcfg = 0;
    h->stvec = h->sscratch = h->sepc = h->scause = h->stval = 0;
    h->scounteren = h->senvcfg = h->satp = 0;
    h->fflags = h->frm = 0;
    memset(h->pmpcfg, 0, sizeof(h->pmpcfg));
    memset(h->pmpaddr, 0, sizeof(h->pmpaddr));
    h->pmp_active = 0;
    h->instret = h->instret_base = 0;
    atomic_store(&h->mip_async, 0);
    atomic_store(&h->mtimecmp, ~0ull);
    h->stimecmp = ~0ull;
    h->check = 1;
    h->fatal = 0;
    h->fatal_msg[0] = 0;
    atomic_store(&h->events, 0);
    h->resv_valid = 0;
    h->tlb_nfill = TLB_FILLS + 1; /* nothing is known of the entries: clear them all */
    mmu_flush_tlb(h);
    hart_flush_code(h);
}

/* The engine operation that drops every translation of guest code this
 * hart holds (today the interpreter's decoded blocks). */
void hart_flush_code(struct hart *h)
{
    h->code_gen++;
    bcache_flush(&h->bc);
    jit_cache_flush(&h->jit);
}

/* ---- block construction ---- */

static uint32_t rd16(const uint8_t *p)
{
    return ram_load(p, 2); /* another vCPU may be writing this code */
}

/* The arena's pages from `used` on are made present 256 KiB at a time with
 * one call, rather than with a page fault each (dear in a VM host). */
#define ARENA_READY (256u << 10)
static void arena_ready(struct bcache *bc, size_t need)
{
    if (bc->arena_used + need <= bc->arena_ready || bc->arena_ready >= bc->arena_size) return;
    size_t to = bc->arena_used + need + ARENA_READY;
    if (to > bc->arena_size) to = bc->arena_size;
    mem_host_populate(bc->arena + bc->arena_used, to - bc->arena_used);
    bc->arena_ready = to;
}

static struct block *block_alloc(struct hart *h)
{
    struct bcache *bc = &h->bc;
    size_t need = sizeof(struct block) + (BLOCK_MAX + 1) * sizeof(struct iinsn);
    /* The decoded blocks call into the code cache: both go at once. */
    if (bc->arena_used + need > bc->arena_size ||
        (h->jit.rw && jit_cache_room(&h->jit) < JIT_BLOCK_MAX))
        hart_flush_code(h);
    arena_ready(bc, need);
    return (struct block *)(void *)(bc->arena + bc->arena_used);
}

static void block_finish(struct bcache *bc, struct block *b, unsigned n, unsigned off,
                         const void *const *labels)
{
    struct iinsn *end = &b->insn[n];
    memset(end, 0, sizeof(*end));
    end->d.op = OP_END;
    end->handler = labels[OP_END];
    end->count = n ? b->insn[n - 1].count : 0; /* instructions the block retires */
    end->pc_off = (uint16_t)off;
    b->n = n;
    b->bytes = off;
    b->native = 0;
    b->uses = 0;
    size_t used = sizeof(struct block) + (n + 1) * sizeof(struct iinsn);
    bc->arena_used += (used + 15) & ~(size_t)15;
}

/* A branch or JAL whose target is an instruction of its own block (a loop,
 * or a jump over an if-body) continues there directly. */
static void link_local_branches(struct block *b, unsigned n, unsigned bytes)
{
    for (unsigned i = 0; i < n; i++) {
        struct iinsn *d = &b->insn[i];
        d->target = NO_TARGET;
        if (d->d.op != OP_JAL && (d->d.op < OP_BEQ || d->d.op > OP_BGEU)) continue;
        int64_t t = (int64_t)d->pc_off + d->d.imm;
        if (t < 0 || t >= (int64_t)bytes) continue;
        unsigned lo = 0, hi = n; /* pc_off grows with the index */
        while (lo < hi) {
            unsigned mid = (lo + hi) / 2;
            if (b->insn[mid].pc_off < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && b->insn[lo].pc_off == t) d->target = (uint16_t)lo;
    }
}

/* Build the block at pc (physical pa, host bytes at host). Returns NULL when
 * the first instruction straddles a page boundary (handled by the caller). */
static struct block *block_build(struct hart *h, uint64_t pc, uint64_t pa, const uint8_t *host,
                                 const void *const *labels)
{
    struct bcache *bc = &h->bc;
    struct block *b = block_alloc(h);
    unsigned off = 0, n = 0;
    unsigned room = 4096 - (unsigned)(pc & 0xfff);
    while (n < BLOCK_MAX && off + 2 <= room) {
        if (unlikely(h->dbg) && hart_debug_bp(h, pc + off)) {
            if (n) break; /* the block ends before the breakpoint */
            struct iinsn *d = &b->insn[0];
            memset(d, 0, sizeof(*d));
            d->d.op = OP_DEBUG;
            d->handler = labels[OP_DEBUG];
            d->count = 1;
            d->d.len = 2;
            d->target = NO_TARGET;
            n = 1;
            off = 2;
            break;
        }
        uint32_t raw = rd16(host + off);
        if ((raw & 3) == 3) {
            if (off + 4 > room) break;
            raw |= rd16(host + off + 2) << 16;
        }
        struct iinsn *d = &b->insn[n];
        insn_decode_any(raw, &d->d);
        d->handler = labels[d->d.op];
        d->count = (uint16_t)(n + 1);
        d->pc_off = (uint16_t)off;
        off += d->d.len;
        n++;
        if (insn_ends_block(d->d.op)) break;
    }
    if (n == 0) return NULL;
    link_local_branches(b, n, off);
    b->paddr = pa;
    block_finish(bc, b, n, off, labels);
    mmu_note_code(h, pa);
    bc->slot[(pa >> 1) & ((1u << BCACHE_BITS) - 1)] = b;
    h->stats.blocks_built++;
    return b;
}

/* A jump back to instruction `to` of block b, run by the interpreter: does
 * the translator still count or translate the loop it closes? Yes unless
 * the block at its head was found untranslatable (engine jit only). */
static int loop_warming(const struct hart *h, const struct block *b, const struct iinsn *to)
{
    if (!h->jit.rw || h->dbg) return 0;
    uint64_t pa = b->paddr + to->pc_off;
    const struct block *nb = h->bc.slot[(pa >> 1) & ((1u << BCACHE_BITS) - 1)];
    return !(nb && nb->paddr == pa && nb->uses == ~0u && !nb->native);
}

/* Engine jit: translate block b (run JIT_HOT times interpreted: code that
 * runs a few times, much of a boot, is never translated), whose page's bytes are
 * at page. Once decided, b->uses is ~0 whether it got a translation or
 * not. */
static void block_translate(struct hart *h, struct block *b, const uint8_t *page)
{
    b->uses = ~0u;
    if (jit_cache_room(&h->jit) < JIT_BLOCK_MAX) return; /* the next block_alloc flushes */
    unsigned count = 0;
    jit_cache_ready(&h->jit);
    size_t cold0 = h->jit.cold_used;
    uint64_t t0 = host_time_ns();
    const struct tlb_entry *tlbd = h->tlb[tlb_mode(hart_data_priv(h))][TLB_R];
    b->native = jit_translate_block(&h->jit, b, page, h->x, tlbd, &count);
    h->stats.jit_ns += host_time_ns() - t0;
    const struct iinsn *trace = NULL;
    unsigned ntrace = b->native ? jit_last_trace(&h->jit, &trace) : 0;
    h->stats.jit_insns += count + ntrace;
    if (b->native && h->vm->jit_map)
        fprintf(h->vm->jit_map, "%llx %zx %llx %u %llx %zx\n",
                (unsigned long long)(uintptr_t)(h->jit.rx + b->native), h->jit.used - b->native,
                (unsigned long long)b->paddr, h->id,
                (unsigned long long)(uintptr_t)(h->jit.rx + cold0), h->jit.cold_used - cold0);
    if (b->native && h->vm->jit_dump)
        jit_dump_block(h->vm->jit_dump, b, count, trace, ntrace, h->jit.rw + b->native,
                       h->jit.used - b->native, (uint64_t)(uintptr_t)(h->jit.rx + b->native));
}

/* Run the instruction at pc as a one-instruction block that is not cached:
 * a 32-bit instruction whose halves lie on two pages (the second half is
 * fetched through its own translation), or any instruction on a page that
 * PMP makes only partly executable (3.7.1: every fetch is checked, so a
 * block must not run on past the end of an executable region). */
static struct block *block_single(struct hart *h, uint64_t pc, const uint8_t *host,
                                  struct block *tmp, uint64_t *tval, int *cause,
                                  const void *const *labels)
{
    uint32_t raw = rd16(host);
    unsigned len = 2;
    if ((raw & 3) == 3) {
        uint64_t pa2;
        uint8_t *host2;
        int r = mmu_fetch(h, pc + 2, &pa2, &host2, tval);
        if (r) {
            *cause = r - 1;
            return NULL;
        }
        raw |= rd16(host2) << 16;
        len = 4;
    }
    insn_decode_any(raw, &tmp->insn[0].d);
    if (unlikely(h->dbg) && hart_debug_bp(h, pc)) tmp->insn[0].d.op = OP_DEBUG;
    tmp->insn[0].handler = labels[tmp->insn[0].d.op];
    tmp->insn[0].pc_off = 0;
    tmp->insn[0].count = 1;
    tmp->insn[0].target = NO_TARGET;
    memset(&tmp->insn[1], 0, sizeof(struct iinsn));
    tmp->insn[1].d.op = OP_END;
    tmp->insn[1].handler = labels[OP_END];
    tmp->insn[1].count = 1;
    tmp->insn[1].pc_off = (uint16_t)len;
    tmp->n = 1;
    tmp->bytes = len;
    tmp->paddr = ~0ull; /* never matches a cached block: no chaining */
    tmp->native = 0;
    tmp->uses = ~0u;
    return tmp;
}

/* ---- servicing: events, budget, interrupts ---- */

void hart_apply_events(struct hart *h)
{
    uint32_t ev = atomic_fetch_and_explicit(&h->events, ~HART_EV_LOCAL, memory_order_acq_rel);
    if (ev & HART_EV_TLB) mmu_flush_tlb(h);
    if (ev & HART_EV_FENCEI) hart_flush_code(h);
    if (ev & HART_EV_CODE) drop_written_code(h);
}

struct run_limit {
    uint64_t stop_at;     /* instret at which the budget is spent */
    uint64_t deadline_ns; /* host time, 0 = none */
};

/* Blocks hart_run may chain before it looks up again: few enough that the
 * budget cannot be overshot (each block retires at most BLOCK_MAX). */
static int poll_blocks(const struct hart *h, const struct run_limit *lim)
{
    uint64_t left = (lim->stop_at - h->instret) / BLOCK_MAX;
    return left >= POLL_BLOCKS ? POLL_BLOCKS : left ? (int)left : 1;
}

/* A spin-wait: the hart is in a state (pc and every register) it was in at
 * one of the last few polls, thousands of blocks apart, so it only reads
 * memory that another vCPU, perhaps preempted on the host, has to change.
 * A loop that computes changes some register. Typical are lock loops whose
 * pause hint is a DIV (Linux without Zihintpause). */
static int spin_detected(struct hart *h)
{
    uint64_t sig = h->pc * 0x9e3779b97f4a7c15ull;
    for (unsigned i = 1; i < 32; i++)
        sig = (sig ^ h->x[i]) * 0x100000001b3ull;
    for (unsigned i = 0; i < 4; i++)
        if (h->spin_seen[i] == sig) return 1;
    h->spin_seen[h->spin_next++ & 3] = sig;
    return 0;
}

/* Between blocks: apply events, take a pending interrupt. Returns an exit
 * reason, or -1 to go on running. */
static int hart_poll(struct hart *h, const struct run_limit *lim)
{
    hart_apply_events(h);
    if (h->fatal) return HART_EXIT_FATAL;
    if (atomic_load_explicit(&h->events, memory_order_acquire) & HART_EV_VMM)
        return HART_EXIT_EVENT;
    if (h->instret >= lim->stop_at) return HART_EXIT_BUDGET;
    if (lim->deadline_ns && host_time_ns() >= lim->deadline_ns) return HART_EXIT_BUDGET;
    int irq = h->dbg_ignore ? -1 : hart_pending_irq(h); /* debugger steps: no interrupts */
    if (irq >= 0) {
        hart_trap(h, (uint64_t)irq, 0, 1);
    } else if (!h->check && spin_detected(h)) {
        return HART_EXIT_YIELD;
    }
    h->check = 0;
    return -1;
}

/* ---- guest memory fast paths ---- */

/* A guest FENCE. GCC's ThreadSanitizer cannot instrument standalone fences;
 * there a locked no-op RMW on the hart (a full barrier on x86) stands in. */
#if defined(__SANITIZE_THREAD__)
#define GUEST_FENCE(order) ((void)__atomic_fetch_add(&h->fence_word, 0, (order)))
#else
#define GUEST_FENCE(order) __atomic_thread_fence(order)
#endif

#define DEF_LD(name, T)                                                                            \
    static inline uint64_t name(const void *p)                                                     \
    {                                                                                              \
        return (uint64_t)__atomic_load_n((const T *)p, __ATOMIC_RELAXED);                          \
    }
DEF_LD(ld_u8, uint8_t)
DEF_LD(ld_u16, uint16_t)
DEF_LD(ld_u32, uint32_t)
DEF_LD(ld_u64, uint64_t)
#define DEF_ST(name, T)                                                                            \
    static inline void name(void *p, uint64_t v)                                                   \
    {                                                                                              \
        __atomic_store_n((T *)p, (T)v, __ATOMIC_RELAXED);                                          \
    }
DEF_ST(st_u8, uint8_t)
DEF_ST(st_u16, uint16_t)
DEF_ST(st_u32, uint32_t)
DEF_ST(st_u64, uint64_t)

static inline uint32_t unbox32(uint64_t v)
{
    return (v >> 32) == 0xffffffffu ? (uint32_t)v : FPU_F32_CANON_NAN;
}

static inline uint64_t box32(uint32_t v)
{
    return 0xffffffff00000000ull | v;
}

int hart_run(struct hart *h, uint64_t budget, uint64_t deadline_ns)
{
    static const void *const labels[OP_COUNT] = {
#define INSN_LABEL(n) &&L_##n,
        INSN_OPS(INSN_LABEL)
#undef INSN_LABEL
    };
    uint64_t *const x = h->x;
    uint64_t *const f = h->f;
    _Alignas(16) unsigned char tmpblk_buf[sizeof(struct block) + 2 * sizeof(struct iinsn)];
    struct block *const tmpblk = (struct block *)(void *)tmpblk_buf;
    struct run_limit lim = {h->instret + budget, deadline_ns};
    h->pauses = 0;
    memset(h->spin_seen, 0, sizeof(h->spin_seen));
    if (lim.stop_at < h->instret) lim.stop_at = ~0ull;
    int poll = 0;
    uint64_t site_gen = 0; /* code cache generation of h->jit_site */
    const unsigned hot = h->vm->cfg.jit_hot ? h->vm->cfg.jit_hot : JIT_HOT;
    h->jit_site = 0;

    for (;;) {
        if (unlikely(h->check | atomic_load_explicit(&h->events, memory_order_relaxed)) ||
            unlikely(--poll <= 0)) {
            int r = hart_poll(h, &lim);
            if (r >= 0) return r;
            poll = poll_blocks(h, &lim);
        }
        uint64_t pc = h->pc;
        uint64_t pa, tval;
        uint8_t *host;
        const struct tlb_entry *xe = &h->tlb[tlb_mode(h->priv)][TLB_X][(pc >> 12) & (TLB_SIZE - 1)];
        if (likely(xe->tag == (pc & ~0xfffull))) {
            pa = xe->paddr | (pc & 0xfff);
            host = (uint8_t *)(uintptr_t)(pc + xe->addend);
        } else {
            int r = mmu_fetch(h, pc, &pa, &host, &tval);
            if (unlikely(r)) {
                hart_trap(h, (uint64_t)(r - 1), tval, 0);
                continue;
            }
        }
        /* mmu_fetch caches the page for execution unless PMP makes it only
         * partly executable: then go one checked instruction at a time. */
        int single = xe->tag != (pc & ~0xfffull);
        struct block *b = h->bc.slot[(pa >> 1) & ((1u << BCACHE_BITS) - 1)];
        /* Near the end of the budget, one instruction at a time. */
        if (unlikely(lim.stop_at - h->instret < BLOCK_MAX)) single = 1;
        if (unlikely(single || !b || b->paddr != pa)) {
            b = single ? NULL : block_build(h, pc, pa, host, labels);
            if (!b) {
                int cause = 0;
                b = block_single(h, pc, host, tmpblk, &tval, &cause, labels);
                if (!b) {
                    hart_trap(h, (uint64_t)cause, tval, 0);
                    continue;
                }
            }
        }
        if (!b->native && b->uses != ~0u && h->jit.rw && likely(!h->dbg) && !single) {
            if (b->uses < hot) b->uses++; /* chaining counts too */
            if (b->uses >= hot) block_translate(h, b, host - (pc & 0xfff));
        }
        if (b->native && likely(!h->dbg) && likely(!h->jit_bail)) {
            if (h->jit_site && (h->jit_site_pa & ~1ull) == b->paddr && site_gen == h->jit.flushes) {
                jit_link(&h->jit, h->jit_site, b->native, (int)(h->jit_site_pa & 1));
                h->stats.jit_links++;
            }
            h->jit_site = 0;
            uint64_t left = lim.stop_at - h->instret;
            int64_t give = left > JIT_SLICE ? JIT_SLICE : (int64_t)left;
            int64_t ran = give - jit_enter(h, pc, give, b->native);
            h->instret += (uint64_t)ran;
            h->stats.jit_entries++;
            site_gen = h->jit.flushes;
            poll -= 1 + (int)(ran >> 2); /* a full slice is a poll's worth */
            continue;
        }
        h->jit_site = 0;
        h->jit_bail = 0;
        unsigned dpriv = tlb_mode(hart_data_priv(h));
        struct tlb_entry *const tlbr = h->tlb[dpriv][TLB_R];
        struct tlb_entry *const tlbw = h->tlb[dpriv][TLB_W];
        /* fetch translations of this privilege (it cannot change while
         * blocks chain: every privilege change ends the block) */
        const struct tlb_entry *const tlbx = h->tlb[tlb_mode(h->priv)][TLB_X];
        const struct iinsn *ip = b->insn;
        uint64_t fault_tval = 0, amo_val = 0;
        int fault = 0;

#define DISPATCH() goto * ip->handler
#define NEXT()                                                                                     \
    do {                                                                                           \
        ip++;                                                                                      \
        DISPATCH();                                                                                \
    } while (0)
#define PC_HERE() (pc + ip->pc_off)
#define PC_NEXT() (pc + ip->pc_off + ip->d.len)
#define RETIRED() ((uint64_t)ip->count)
/* Leave the block after this instruction, continuing at newpc. */
#define JUMP(newpc)                                                                                \
    do {                                                                                           \
        h->pc = (newpc);                                                                           \
        h->instret += RETIRED();                                                                   \
        goto block_exit;                                                                           \
    } while (0)
/* Leave the block after a branch or jump to newpc. A target on the same
 * virtual page as this block lies on the same physical page (the mapping
 * cannot change inside a block), so the next block is looked up directly;
 * a target on another page is translated through the fetch TLB, and only a
 * miss there goes back to the main loop. Only the poll budget is checked here:
 * events from other threads (IPIs, device interrupts, timers) are seen when
 * it runs out (at most POLL_BLOCKS blocks), and anything this hart raises
 * itself (CSR writes, MMIO stores) zeroes it or ends the block. */
#define CHAIN(newpc)                                                                               \
    do {                                                                                           \
        uint64_t t_ = (newpc);                                                                     \
        h->instret += RETIRED();                                                                   \
        if (likely(--poll > 0)) {                                                                  \
            if (t_ == pc) { /* a loop that is one block */                                         \
                ip = b->insn;                                                                      \
                DISPATCH();                                                                        \
            }                                                                                      \
            uint64_t tpa_ = ~0ull; /* matches no block */                                          \
            if (likely(((t_ ^ pc) >> 12) == 0)) {                                                  \
                tpa_ = (b->paddr & ~0xfffull) | (t_ & 0xfff);                                      \
            } else {                                                                               \
                const struct tlb_entry *xe_ = &tlbx[(t_ >> 12) & (TLB_SIZE - 1)];                  \
                if (likely(xe_->tag == (t_ & ~0xfffull))) tpa_ = xe_->paddr | (t_ & 0xfff);        \
            }                                                                                      \
            struct block *nb_ = h->bc.slot[(tpa_ >> 1) & ((1u << BCACHE_BITS) - 1)];               \
            if (likely(nb_ && nb_->paddr == tpa_ && (!nb_->native || h->dbg)) &&                   \
                (nb_->uses >= hot || ++nb_->uses < hot)) {                                         \
                b = nb_;                                                                           \
                pc = t_;                                                                           \
                ip = b->insn;                                                                      \
                DISPATCH();                                                                        \
            }                                                                                      \
        }                                                                                          \
        h->pc = t_;                                                                                \
        goto block_exit;                                                                           \
    } while (0)
        /* The target of a chained jump to another page is not in the fetch TLB. */

/* Keeps h->instret + ip->count - 1 equal to the instructions retired
 * before ip when execution moves from ip to instruction j of the block.
 * A jump back (a loop inside the block) leaves for the dispatcher while
 * the translator may still want the loop (loop_warming), so that its head
 * is counted and translated like any block. */
#define LOCAL_JUMP(j)                                                                              \
    do {                                                                                           \
        const struct iinsn *to_ = b->insn + (j);                                                   \
        h->instret += (uint64_t)ip->count - (uint64_t)to_->count + 1;                              \
        if (likely(--poll > 0) && (to_ > ip || likely(!loop_warming(h, b, to_)))) {                \
            ip = to_;                                                                              \
            DISPATCH();                                                                            \
        }                                                                                          \
        h->pc = pc + to_->pc_off;                                                                  \
        h->instret += (uint64_t)to_->count - 1;                                                    \
        goto block_exit;                                                                           \
    } while (0)
#define TRAP(cause, tv)                                                                            \
    do {                                                                                           \
        h->pc = PC_HERE();                                                                         \
        h->instret += RETIRED() - 1;                                                               \
        hart_trap(h, (cause), (tv), 0);                                                            \
        goto block_exit;                                                                           \
    } while (0)
#define ILLEGAL() TRAP(EXC_ILLEGAL, ip->d.raw)
/* Stop before this instruction for the debugger. */
#define DEBUG_EXIT()                                                                               \
    do {                                                                                           \
        h->pc = PC_HERE();                                                                         \
        h->instret += RETIRED() - 1;                                                               \
        x[REG_SINK] = 0;                                                                           \
        return HART_EXIT_DEBUG;                                                                    \
    } while (0)
#define MEM_FAULT()                                                                                \
    do {                                                                                           \
        if (fault == MMU_DEBUG_HIT) DEBUG_EXIT();                                                  \
        TRAP((uint64_t)(fault - 1), fault_tval);                                                   \
    } while (0)
#define RD  x[ip->d.rd]
#define RS1 x[ip->d.rs1]
#define RS2 x[ip->d.rs2]
#define IMM ((int64_t)ip->d.imm)

#define LOAD(T, SX, size, dst)                                                                     \
    do {                                                                                           \
        uint64_t va_ = RS1 + IMM;                                                                  \
        const struct tlb_entry *e_ = &tlbr[(va_ >> 12) & (TLB_SIZE - 1)];                          \
        uint64_t v_;                                                                               \
        if (likely(e_->tag == (va_ & (~0xfffull | ((size)-1))))) {                                 \
            v_ = ld_u##SX((const void *)(uintptr_t)(va_ + e_->addend));                            \
        } else {                                                                                   \
            fault = mmu_load_slow(h, va_, (size), &v_, &fault_tval);                               \
            if (unlikely(fault)) MEM_FAULT();                                                      \
        }                                                                                          \
        dst = (uint64_t)(T)v_;                                                                     \
    } while (0)
#define STORE(SX, size, val)                                                                       \
    do {                                                                                           \
        uint64_t va_ = RS1 + IMM;                                                                  \
        const struct tlb_entry *e_ = &tlbw[(va_ >> 12) & (TLB_SIZE - 1)];                          \
        if (likely(e_->tag == (va_ & (~0xfffull | ((size)-1))))) {                                 \
            st_u##SX((void *)(uintptr_t)(va_ + e_->addend), (val));                                \
        } else {                                                                                   \
            fault = mmu_store_slow(h, va_, (size), (val), &fault_tval);                            \
            if (unlikely(fault)) MEM_FAULT();                                                      \
            /* an MMIO store may have raised an interrupt for this hart */                         \
            uint32_t ev_ = atomic_load_explicit(&h->events, memory_order_relaxed);                 \
            if (h->check | ev_) poll = 0;                                                          \
            if (ev_ & HART_EV_CODE) JUMP(PC_NEXT()); /* this block may be stale now */             \
        }                                                                                          \
    } while (0)

        DISPATCH();

    L_END:
        ip--; /* CHAIN counts the instructions before the sentinel */
        CHAIN(pc + b->bytes);
    L_ILLEGAL:
        ILLEGAL();
    L_NOP:
    L_FENCE:
        /* x86-64 is TSO: loads and stores already keep RISC-V's order
         * except a store followed by a load, which needs MFENCE (pred W,
         * succ R). Everything else only has to stop the compiler. */
        if ((IMM & 0x10) && (IMM & 0x02))
            GUEST_FENCE(__ATOMIC_SEQ_CST);
        else
            GUEST_FENCE(__ATOMIC_ACQ_REL);
        NEXT();
    L_DEBUG:
        DEBUG_EXIT();
    L_JIT:
        ILLEGAL(); /* never decoded */
    L_PAUSE:
        if (likely(++h->pauses < PAUSE_YIELD)) NEXT();
        h->pc = PC_NEXT();
        h->instret += RETIRED();
        x[REG_SINK] = 0;
        return HART_EXIT_YIELD;
    L_LUI:
        RD = (uint64_t)IMM;
        NEXT();
    L_AUIPC:
        RD = PC_HERE() + (uint64_t)IMM;
        NEXT();
    L_JAL : {
        uint64_t t = PC_HERE() + (uint64_t)IMM;
        RD = PC_NEXT();
        if (ip->target != NO_TARGET) LOCAL_JUMP(ip->target);
        CHAIN(t);
    }
    L_JALR : {
        uint64_t t = (RS1 + (uint64_t)IMM) & ~1ull;
        RD = PC_NEXT();
        CHAIN(t);
    }
#define BRANCH(cond)                                                                               \
    do {                                                                                           \
        if (cond) {                                                                                \
            if (ip->target != NO_TARGET) LOCAL_JUMP(ip->target);                                   \
            CHAIN(PC_HERE() + (uint64_t)IMM);                                                      \
        }                                                                                          \
        NEXT();                                                                                    \
    } while (0)
    L_BEQ:
        BRANCH(RS1 == RS2);
    L_BNE:
        BRANCH(RS1 != RS2);
    L_BLT:
        BRANCH((int64_t)RS1 < (int64_t)RS2);
    L_BGE:
        BRANCH((int64_t)RS1 >= (int64_t)RS2);
    L_BLTU:
        BRANCH(RS1 < RS2);
    L_BGEU:
        BRANCH(RS1 >= RS2);
    L_LB:
        LOAD(int8_t, 8, 1, RD);
        NEXT();
    L_LH:
        LOAD(int16_t, 16, 2, RD);
        NEXT();
    L_LW:
        LOAD(int32_t, 32, 4, RD);
        NEXT();
    L_LD:
        LOAD(uint64_t, 64, 8, RD);
        NEXT();
    L_LBU:
        LOAD(uint8_t, 8, 1, RD);
        NEXT();
    L_LHU:
        LOAD(uint16_t, 16, 2, RD);
        NEXT();
    L_LWU:
        LOAD(uint32_t, 32, 4, RD);
        NEXT();
    L_SB:
        STORE(8, 1, RS2);
        NEXT();
    L_SH:
        STORE(16, 2, RS2);
        NEXT();
    L_SW:
        STORE(32, 4, RS2);
        NEXT();
    L_SD:
        STORE(64, 8, RS2);
        NEXT();
    L_ADDI:
        RD = RS1 + (uint64_t)IMM;
        NEXT();
    L_SLTI:
        RD = (int64_t)RS1 < IMM;
        NEXT();
    L_SLTIU:
        RD = RS1 < (uint64_t)IMM;
        NEXT();
    L_XORI:
        RD = RS1 ^ (uint64_t)IMM;
        NEXT();
    L_ORI:
        RD = RS1 | (uint64_t)IMM;
        NEXT();
    L_ANDI:
        RD = RS1 & (uint64_t)IMM;
        NEXT();
    L_SLLI:
        RD = RS1 << ip->d.imm;
        NEXT();
    L_SRLI:
        RD = RS1 >> ip->d.imm;
        NEXT();
    L_SRAI:
        RD = (uint64_t)((int64_t)RS1 >> ip->d.imm);
        NEXT();
    L_ADD:
        RD = RS1 + RS2;
        NEXT();
    L_SUB:
        RD = RS1 - RS2;
        NEXT();
    L_SLL:
        RD = RS1 << (RS2 & 63);
        NEXT();
    L_SLT:
        RD = (int64_t)RS1 < (int64_t)RS2;
        NEXT();
    L_SLTU:
        RD = RS1 < RS2;
        NEXT();
    L_XOR:
        RD = RS1 ^ RS2;
        NEXT();
    L_SRL:
        RD = RS1 >> (RS2 & 63);
        NEXT();
    L_SRA:
        RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63));
        NEXT();
    L_OR:
        RD = RS1 | RS2;
        NEXT();
    L_AND:
        RD = RS1 & RS2;
        NEXT();
#define SX32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))
    L_ADDIW:
        RD = SX32(RS1 + (uint64_t)IMM);
        NEXT();
    L_SLLIW:
        RD = SX32((uint32_t)RS1 << ip->d.imm);
        NEXT();
    L_SRLIW:
        RD = SX32((uint32_t)RS1 >> ip->d.imm);
        NEXT();
    L_SRAIW:
        RD = SX32((int32_t)RS1 >> ip->d.imm);
        NEXT();
    L_ADDW:
        RD = SX32(RS1 + RS2);
        NEXT();
    L_SUBW:
        RD = SX32(RS1 - RS2);
        NEXT();
    L_SLLW:
        RD = SX32((uint32_t)RS1 << (RS2 & 31));
        NEXT();
    L_SRLW:
        RD = SX32((uint32_t)RS1 >> (RS2 & 31));
        NEXT();
    L_SRAW:
        RD = SX32((int32_t)RS1 >> (RS2 & 31));
        NEXT();
    L_MUL:
        RD = RS1 * RS2;
        NEXT();
    L_MULH:
        RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)(int64_t)RS2) >> 64);
        NEXT();
    L_MULHSU:
        RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)(unsigned __int128)RS2) >> 64);
        NEXT();
    L_MULHU:
        RD = (uint64_t)(((unsigned __int128)RS1 * RS2) >> 64);
        NEXT();
    L_DIV : {
        int64_t a = (int64_t)RS1, d = (int64_t)RS2;
        RD = d == 0 ? ~0ull : (a == INT64_MIN && d == -1) ? (uint64_t)a : (uint64_t)(a / d);
        NEXT();
    }
    L_DIVU:
        RD = RS2 == 0 ? ~0ull : RS1 / RS2;
        NEXT();
    L_REM : {
        int64_t a = (int64_t)RS1, d = (int64_t)RS2;
        RD = d == 0 ? (uint64_t)a : (a == INT64_MIN && d == -1) ? 0 : (uint64_t)(a % d);
        NEXT();
    }
    L_REMU:
        RD = RS2 == 0 ? RS1 : RS1 % RS2;
        NEXT();
    L_MULW:
        RD = SX32((uint32_t)RS1 * (uint32_t)RS2);
        NEXT();
    L_DIVW : {
        int32_t a = (int32_t)RS1, d = (int32_t)RS2;
        RD = d == 0 ? ~0ull : (a == INT32_MIN && d == -1) ? SX32(a) : SX32(a / d);
        NEXT();
    }
    L_DIVUW : {
        uint32_t a = (uint32_t)RS1, d = (uint32_t)RS2;
        RD = d == 0 ? ~0ull : SX32(a / d);
        NEXT();
    }
    L_REMW : {
        int32_t a = (int32_t)RS1, d = (int32_t)RS2;
        RD = d == 0 ? SX32(a) : (a == INT32_MIN && d == -1) ? 0 : SX32(a % d);
        NEXT();
    }
    L_REMUW : {
        uint32_t a = (uint32_t)RS1, d = (uint32_t)RS2;
        RD = d == 0 ? SX32(a) : SX32(a % d);
        NEXT();
    }
    L_FENCE_I: /* fetch is coherent: stores into code pages drop their translations */
        JUMP(PC_NEXT());
    L_ECALL : {
        int cause = hart_ecall(h);
        if (cause < 0) { /* a hypercall: vmon serves it, the guest goes on after it */
            h->pc = PC_NEXT();
            h->instret += RETIRED();
            x[REG_SINK] = 0;
            return HART_EXIT_HYPERCALL;
        }
        TRAP((uint64_t)cause, 0);
    }
    L_EBREAK:
        TRAP(EXC_BREAKPOINT, PC_HERE());
    L_MRET:
        if (hart_mret(h) < 0) ILLEGAL();
        JUMP(h->pc);
    L_SRET:
        if (hart_sret(h) < 0) ILLEGAL();
        JUMP(h->pc);
    L_WFI : {
        int r = hart_wfi(h);
        if (r < 0) ILLEGAL();
        if (r) JUMP(PC_NEXT()); /* an interrupt is pending: completes at once */
        h->pc = PC_NEXT();
        h->instret += RETIRED();
        x[REG_SINK] = 0;
        return HART_EXIT_IDLE;
    }
    L_SFENCE_VMA:
        if (hart_sfence_vma(h, ip->d.rs1) < 0) ILLEGAL();
        JUMP(PC_NEXT());
        /* The instructions of this block before the CSR instruction have retired:
         * count them in h->instret while the CSR is accessed, so that instret/cycle
         * reads and minstret/mcycle writes are exact (csr.c assumes h->instret
         * excludes only the current instruction). */
    L_CSRRW:
    L_CSRRWI:
    L_CSRRS:
    L_CSRRC:
    L_CSRRSI:
    L_CSRRCI : {
        uint64_t old = 0;
        h->instret += RETIRED() - 1;
        int r = hart_csr_op(h, &ip->d, RS1, &old);
        h->instret -= RETIRED() - 1;
        if (r < 0) ILLEGAL();
        RD = old;
        JUMP(PC_NEXT());
    }

    /* ---- A extension (amo.c) ---- */
    L_LR_W:
    L_LR_D:
    L_SC_W:
    L_SC_D:
    L_AMOSWAP_W:
    L_AMOADD_W:
    L_AMOXOR_W:
    L_AMOAND_W:
    L_AMOOR_W:
    L_AMOSWAP_D:
    L_AMOADD_D:
    L_AMOXOR_D:
    L_AMOAND_D:
    L_AMOOR_D:
    L_AMOMIN_W:
    L_AMOMAX_W:
    L_AMOMINU_W:
    L_AMOMAXU_W:
    L_AMOMIN_D:
    L_AMOMAX_D:
    L_AMOMINU_D:
    L_AMOMAXU_D:
        fault = hart_amo(h, ip->d.op, RS1, RS2, &amo_val, &fault_tval);
        if (unlikely(fault)) MEM_FAULT();
        RD = amo_val;
        NEXT();

        /* ---- F and D ---- */
#define FP_ON()                                                                                    \
    do {                                                                                           \
        if (unlikely(!(h->mstatus & MSTATUS_FS))) ILLEGAL();                                       \
    } while (0)
#define FP_DIRTY() (h->mstatus |= MSTATUS_FS)
#define RM(var)                                                                                    \
    int var = ip->d.rm == 7 ? (int)h->frm : (int)ip->d.rm;                                         \
    if (unlikely(var > 4)) ILLEGAL()
#define FLAGS(fl)                                                                                  \
    do {                                                                                           \
        if (fl) {                                                                                  \
            h->fflags |= (fl);                                                                     \
            FP_DIRTY();                                                                            \
        }                                                                                          \
    } while (0)
#define F32(r) unbox32(f[r])
#define FRD32(v)                                                                                   \
    do {                                                                                           \
        f[ip->d.rd] = box32(v);                                                                    \
        FP_DIRTY();                                                                                \
    } while (0)
#define FRD64(v)                                                                                   \
    do {                                                                                           \
        f[ip->d.rd] = (v);                                                                         \
        FP_DIRTY();                                                                                \
    } while (0)
    L_FLW : {
        FP_ON();
        uint64_t v;
        LOAD(uint32_t, 32, 4, v);
        FRD32((uint32_t)v);
        NEXT();
    }
    L_FLD : {
        FP_ON();
        uint64_t v;
        LOAD(uint64_t, 64, 8, v);
        FRD64(v);
        NEXT();
    }
    L_FSW:
        FP_ON();
        STORE(32, 4, (uint32_t)f[ip->d.rs2]);
        NEXT();
    L_FSD:
        FP_ON();
        STORE(64, 8, f[ip->d.rs2]);
        NEXT();
    L_FADD_S:
    L_FSUB_S:
    L_FMUL_S:
    L_FDIV_S:
    L_FADD_D:
    L_FSUB_D:
    L_FMUL_D:
    L_FDIV_D:
    L_FSQRT_S:
    L_FSQRT_D:
    L_FMADD_S:
    L_FMSUB_S:
    L_FNMSUB_S:
    L_FNMADD_S:
    L_FMADD_D:
    L_FMSUB_D:
    L_FNMSUB_D:
    L_FNMADD_D:
    L_FSGNJ_S:
    L_FSGNJN_S:
    L_FSGNJX_S:
    L_FSGNJ_D:
    L_FSGNJN_D:
    L_FSGNJX_D:
    L_FMIN_S:
    L_FMAX_S:
    L_FMIN_D:
    L_FMAX_D:
    L_FEQ_S:
    L_FLT_S:
    L_FLE_S:
    L_FEQ_D:
    L_FLT_D:
    L_FLE_D:
    L_FCLASS_S:
    L_FCLASS_D:
    L_FMV_X_W:
    L_FMV_X_D:
    L_FMV_W_X:
    L_FMV_D_X:
    L_FCVT_W_S:
    L_FCVT_WU_S:
    L_FCVT_L_S:
    L_FCVT_LU_S:
    L_FCVT_W_D:
    L_FCVT_WU_D:
    L_FCVT_L_D:
    L_FCVT_LU_D:
    L_FCVT_S_W:
    L_FCVT_S_WU:
    L_FCVT_S_L:
    L_FCVT_S_LU:
    L_FCVT_D_W:
    L_FCVT_D_WU:
    L_FCVT_D_L:
    L_FCVT_D_LU:
    L_FCVT_S_D:
    L_FCVT_D_S:
        if (hart_fp_exec(h, &ip->d) < 0) ILLEGAL();
        NEXT();

    block_exit:
        x[REG_SINK] = 0;
        continue;
    }
}
