/* One RISC-V hart (virtual CPU): architectural state, CSRs, TLB and the
 * decoded-block cache used by the interpreter. Privileged spec 1.12. */
#ifndef VMON_HART_H
#define VMON_HART_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "cpu/decode.h"
#include "jit/cache.h"

struct vm;

enum { PRV_U = 0, PRV_S = 1, PRV_M = 3 };

/* Exception causes (privileged spec table 3.6). */
enum {
    EXC_INSN_MISALIGNED = 0,
    EXC_INSN_ACCESS = 1,
    EXC_ILLEGAL = 2,
    EXC_BREAKPOINT = 3,
    EXC_LOAD_MISALIGNED = 4,
    EXC_LOAD_ACCESS = 5,
    EXC_STORE_MISALIGNED = 6,
    EXC_STORE_ACCESS = 7,
    EXC_ECALL_U = 8,
    EXC_ECALL_S = 9,
    EXC_ECALL_M = 11,
    EXC_INSN_PAGE = 12,
    EXC_LOAD_PAGE = 13,
    EXC_STORE_PAGE = 15,
};

/* Interrupt numbers / mip bits. */
enum { IRQ_SSI = 1, IRQ_MSI = 3, IRQ_STI = 5, IRQ_MTI = 7, IRQ_SEI = 9, IRQ_MEI = 11 };
#define MIP_SSIP   (1ull << IRQ_SSI)
#define MIP_MSIP   (1ull << IRQ_MSI)
#define MIP_STIP   (1ull << IRQ_STI)
#define MIP_MTIP   (1ull << IRQ_MTI)
#define MIP_SEIP   (1ull << IRQ_SEI)
#define MIP_MEIP   (1ull << IRQ_MEI)
#define MIP_S_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)
#define MIP_ALL    (MIP_S_MASK | MIP_MSIP | MIP_MTIP | MIP_MEIP)

/* mstatus bits (privileged spec 3.1.6). */
#define MSTATUS_SIE       (1ull << 1)
#define MSTATUS_MIE       (1ull << 3)
#define MSTATUS_SPIE      (1ull << 5)
#define MSTATUS_UBE       (1ull << 6)
#define MSTATUS_MPIE      (1ull << 7)
#define MSTATUS_SPP       (1ull << 8)
#define MSTATUS_VS        (3ull << 9)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP       (3ull << 11)
#define MSTATUS_FS_SHIFT  13
#define MSTATUS_FS        (3ull << 13)
#define MSTATUS_XS        (3ull << 15)
#define MSTATUS_MPRV      (1ull << 17)
#define MSTATUS_SUM       (1ull << 18)
#define MSTATUS_MXR       (1ull << 19)
#define MSTATUS_TVM       (1ull << 20)
#define MSTATUS_TW        (1ull << 21)
#define MSTATUS_TSR       (1ull << 22)
#define MSTATUS_UXL       (3ull << 32)
#define MSTATUS_SXL       (3ull << 34)
#define MSTATUS_SD        (1ull << 63)

/* Atomic event flags: other threads ask a hart to look up from its loop.
 * IRQ, TLB and FENCEI are the hart's own (applied by hart_apply_events, in
 * or out of hart_run); VMM makes hart_run return HART_EXIT_EVENT and is
 * cleared by the vCPU loop, which then looks at why (exit, pause, timer). */
#define HART_EV_IRQ    0x1u  /* an asynchronous interrupt source changed */
#define HART_EV_VMM    0x2u  /* return to the vCPU loop */
#define HART_EV_TLB    0x4u  /* flush TLB (remote sfence.vma) */
#define HART_EV_FENCEI 0x8u  /* drop every translation of code (debugger, snapshots) */
#define HART_EV_CODE   0x10u /* drop the translations of the pages in code_inval */
#define HART_EV_LOCAL  (HART_EV_IRQ | HART_EV_TLB | HART_EV_FENCEI | HART_EV_CODE)

/* Why hart_run returned. The hart is always at an instruction boundary with
 * its whole state in struct hart. */
enum hart_exit {
    HART_EXIT_BUDGET,    /* instruction budget or deadline reached */
    HART_EXIT_IDLE,      /* WFI with no interrupt pending and enabled */
    HART_EXIT_HYPERCALL, /* ECALL from S-mode with hypervisor SBI: pc is past it */
    HART_EXIT_EVENT,     /* HART_EV_VMM: stop, pause, reset or a timer change */
    HART_EXIT_FATAL,     /* no usable trap handler: fatal_msg says why */
    HART_EXIT_YIELD,     /* spin-waiting: another vCPU should run first */
    HART_EXIT_DEBUG,     /* debugger breakpoint or watchpoint, before the instruction */
    HART_EXIT_COUNT
};

#define TLB_BITS  8
#define TLB_SIZE  (1u << TLB_BITS)
#define TLB_FILLS 256
enum { TLB_R = 0, TLB_W = 1, TLB_X = 2 };

/* A TLB entry maps one guest-virtual 4 KiB page to host memory (RAM only).
 * tag is the page address; a tag with low bits set never matches, so a
 * misaligned access misses and takes the slow path. */
struct tlb_entry {
    uint64_t tag;
    uintptr_t addend; /* host address = guest virtual address + addend */
    uint64_t paddr;   /* guest physical page */
    uint64_t unused;  /* pads an entry to 32 bytes: indexing is a shift */
};

#define PMP_COUNT 16

/* Debugger breakpoints and watchpoints (by guest-virtual address), shared by
 * a VM's harts and changed only while the VM is paused. A breakpoint stops
 * a hart before the instruction at its address (no guest memory is
 * patched); a watchpoint stops it before an access that touches its range
 * (the debugger then steps the access with dbg_ignore set). */
#define DBG_MAX_BP    64
#define DBG_MAX_WATCH 8
enum { DBG_WATCH_R = 1, DBG_WATCH_W = 2 };
struct hart_debug {
    unsigned nbp, nwatch;
    uint64_t bp[DBG_MAX_BP];
    struct {
        uint64_t addr, len;
        unsigned type; /* DBG_WATCH_* */
    } watch[DBG_MAX_WATCH];
};
/* mmu_*_slow result for an access that hit a watchpoint (no cause). */
#define MMU_DEBUG_HIT 0x100

/* The interpreter's own instruction format: the decoder's record plus
 * where to dispatch and the instruction's place in its block. */
struct iinsn {
    const void *handler; /* the handler's label (computed goto) */
    struct insn d;       /* what the decoder made of it */
    uint16_t pc_off;     /* byte offset from the start of its block */
    uint16_t count;      /* instructions of its block up to and including this one */
    uint16_t target;     /* index in its block of a branch's target, or NO_TARGET */
};
#define NO_TARGET 0xffffu

/* Decoded block: up to BLOCK_MAX instructions from one guest page, then an
 * OP_END sentinel. Cached by guest physical address of its first byte. */
#define BLOCK_MAX 64
struct block {
    uint64_t paddr;
    uint32_t n;      /* instructions, sentinel excluded */
    uint32_t bytes;  /* guest bytes covered */
    uint32_t native; /* engine jit: code cache offset of its translation, 0 none */
    uint32_t uses;   /* times run before it was translated (JIT_HOT); ~0: decided */
    struct iinsn insn[];
};

#define BCACHE_BITS 18
struct bcache {
    struct block **slot; /* 1 << BCACHE_BITS, mapped lazily: untouched, it costs nothing */
    uint8_t *arena;
    size_t arena_size, arena_used;
    size_t arena_ready; /* populated up to here (block_alloc) */
    uint64_t flushes;
};

struct hart_stats {
    uint64_t traps, interrupts, tlb_flushes, blocks_built;
    uint64_t jit_entries, jit_links, code_writes; /* engine jit; stores into code pages */
    uint64_t jit_ns, jit_insns; /* time spent translating; guest instructions translated */
};

struct hart {
    uint64_t fence_word; /* ThreadSanitizer builds: target of the FENCE stand-in */
    uint64_t x[33];      /* x[32] = REG_SINK: absorbs writes to x0 */
    uint64_t f[32];
    uint64_t pc;
    unsigned priv;
    unsigned id;
    struct vm *vm;

    /* CSRs */
    uint64_t mstatus, misa, medeleg, mideleg, mie, mip;
    uint64_t mtvec, mscratch, mepc, mcause, mtval, mcounteren, menvcfg;
    uint64_t stvec, sscratch, sepc, scause, stval, scounteren, senvcfg, satp;
    uint32_t fflags, frm;
    uint8_t pmpcfg[PMP_COUNT];
    uint64_t pmpaddr[PMP_COUNT];
    uint64_t instret;      /* retired instructions (cycle reads the same) */
    uint64_t instret_base; /* value written to minstret/mcycle minus instret */
    int pmp_active;        /* any PMP entry with A != OFF */

    /* Interrupt sources set by devices and other harts (MSIP, MEIP, SEIP line). */
    _Atomic uint64_t mip_async;
    _Atomic uint32_t events;
    _Atomic uint64_t mtimecmp;    /* CLINT compare register (guest ticks) */
    uint64_t stimecmp;            /* SBI set_timer deadline (hypervisor SBI mode) */
    int check;                    /* local: re-evaluate interrupts before the next block */
    int fatal;                    /* hart_trap found no usable handler */
    unsigned pauses;              /* PAUSE hints in this hart_run call */
    const struct hart_debug *dbg; /* NULL: no debugger attached */
    int dbg_ignore;               /* step over breakpoints and watchpoints */
    uint64_t dbg_watch_va;        /* the access that hit a watchpoint */
    unsigned dbg_watch_type;
    uint64_t spin_seen[4]; /* pc and registers at recent polls (spin-wait detection) */
    unsigned spin_next;
    char fatal_msg[200];

    /* LR/SC reservation */
    uint64_t resv_addr;
    uint64_t resv_val;
    int resv_valid;

    /* Software TLB: [U, S, M][R, W, X] */
    struct tlb_entry tlb[3][3][TLB_SIZE];
    /* Entries filled since the last flush ((mode * 3 + access) << 8 | index),
     * so that a flush clears just those; more than TLB_FILLS: clear all. */
    uint16_t tlb_fill[TLB_FILLS];
    unsigned tlb_nfill;
    uint64_t tlb_gen;       /* bumped whenever TLB entries are dropped */
    uint64_t jit_site_key;  /* tlb_gen and data mode translated code runs with */
    uint64_t jit_fetch_key; /* tlb_gen + code_gen and the privilege it runs at */
    uint64_t code_gen;      /* bumped whenever translations are dropped */

    struct bcache bc;
    /* Pages whose code was overwritten (queued by any thread, HART_EV_CODE):
     * their translations go, the rest stay; too many at once: all go. */
    pthread_mutex_t code_lock;
    uint64_t code_inval[16];
    unsigned n_code_inval;
    int code_inval_all;
    struct jit_cache jit; /* translations of decoded blocks (engine jit) */
    /* Set by translated code: the slow path's fault (a trap was taken),
     * and the unlinked jump an exit left through (rx address of its
     * displacement) with the physical address it goes to. */
    int jit_fault;
    int jit_bail;             /* translated code left for the interpreter to run the next block */
    uint32_t jit_mxcsr;       /* where translated code reads the host's MXCSR (stmxcsr) */
    uint64_t jit_instret_end; /* instret when translated code has spent its budget */
    uint64_t jit_site, jit_site_pa;
    struct tlb_entry *jit_tlbx; /* fetch TLB of the privilege translated code runs at */
    struct tlb_entry *jit_tlbd; /* data TLB (its read table) of that run's accesses */
    int fpu_rm_cached;          /* host rounding mode state for the FPU library */
    struct hart_stats stats;
};

int hart_init(struct hart *h, struct vm *vm, unsigned id);
void hart_destroy(struct hart *h);
void hart_reset(struct hart *h, uint64_t pc);

/* Run guest code until budget instructions have retired (exactly), the host
 * clock reaches deadline_ns (0 = none; checked every few thousand blocks),
 * or the VMM is needed; returns why (enum hart_exit). */
int hart_run(struct hart *h, uint64_t budget, uint64_t deadline_ns);
/* Apply the hart's own pending events (remote fences); callable by the
 * hart's thread outside hart_run. */
void hart_apply_events(struct hart *h);
/* Set mip.MTIP (and STIP under hypervisor SBI) from the compare registers
 * at guest time now; returns the earliest compare value still in the future
 * (~0 if none). */
uint64_t hart_sync_timers(struct hart *h, uint64_t now);
/* An interrupt is pending and enabled in mie: a WFI would complete. */
int hart_wakeup_pending(struct hart *h);

/* Take an exception (interrupt = 0) or interrupt at the current h->pc. */
void hart_trap(struct hart *h, uint64_t cause, uint64_t tval, int interrupt);
/* Pending-and-enabled interrupt to take now, or -1. */
int hart_pending_irq(struct hart *h);
uint64_t hart_read_mip(struct hart *h);

/* CSR access with privilege checks; return 0 or -1 for illegal instruction. */
int csr_read(struct hart *h, unsigned csr, uint64_t *val);
int csr_write(struct hart *h, unsigned csr, uint64_t val);

/* Memory access from the hart's point of view (translation, PMP, MMIO).
 * Return 0 or an exception cause + 1 (with *tval set). */
int mmu_load_slow(struct hart *h, uint64_t va, unsigned size, uint64_t *val, uint64_t *tval);
int mmu_store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val, uint64_t *tval);
/* Translate for fetch; on success returns 0 and sets *pa and host pointer
 * (NULL if not RAM). */
int mmu_fetch(struct hart *h, uint64_t va, uint64_t *pa, uint8_t **host, uint64_t *tval);
/* Translate a data address for an AMO/LR/SC: must be RAM, aligned. */
int mmu_amo_ptr(struct hart *h, uint64_t va, unsigned size, uint8_t **host, uint64_t *tval);
void mmu_flush_tlb(struct hart *h);
/* Drop the TLB entries of one virtual page (every mode and access). */
void mmu_flush_page(struct hart *h, uint64_t va);
/* The hart decoded code from the RAM page at pa: from now on a store to it
 * (by any hart) invalidates every hart's translations. */
void mmu_note_code(struct hart *h, uint64_t pa);
/* Something other than a hart (a device) wrote guest RAM [pa, pa + len):
 * translations made from it are dropped. */
void mmu_code_range_written(struct vm *vm, uint64_t pa, uint64_t len);
int pmp_check(struct hart *h, uint64_t pa, unsigned size, int access, unsigned priv);

/* Drop every cached translation of guest code (FENCE.I, remote fence.i,
 * a debugger's breakpoint or memory change): one engine operation. */
void hart_flush_code(struct hart *h);
/* Another thread (or this one) overwrote the code in the RAM page at pa:
 * the hart drops its translations of that page at its next look at its
 * events (HART_EV_CODE). */
void hart_code_written(struct hart *h, uint64_t page);
/* System instructions, shared by the engines (privileged spec 3.3). Each
 * returns -1 when the instruction is illegal at the current privilege. */
int hart_mret(struct hart *h); /* sets pc = mepc, privilege, mstatus */
int hart_sret(struct hart *h); /* sets pc = sepc, privilege, mstatus */
int hart_wfi(struct hart *h);  /* 1: an interrupt is pending, WFI completes */
/* Flushes the hart's translations of the address in x[rs1], or all (rs1 0). */
int hart_sfence_vma(struct hart *h, unsigned rs1);
/* ECALL: the exception cause to take, or -1 for a hypercall (S-mode under
 * hypervisor SBI). */
int hart_ecall(struct hart *h);
/* A Zicsr instruction d with rs1's value: *old is what rd receives;
 * 0, or -1 for an illegal instruction. */
int hart_csr_op(struct hart *h, const struct insn *d, uint64_t rs1, uint64_t *old);
/* LR, SC or an AMO (op) at va with rs2's value src: sets *rd; returns 0 or
 * an exception cause + 1 (with *tval). */
int hart_amo(struct hart *h, unsigned op, uint64_t va, uint64_t src, uint64_t *rd, uint64_t *tval);
/* An F or D instruction other than a load or store: 0, or -1 illegal. */
int hart_fp_exec(struct hart *h, const struct insn *d);
/* Debugger view: guest-virtual to physical through the hart's current data
 * translation, without A/D updates or permission checks; 0 or -1. */
int mmu_debug_translate(struct hart *h, uint64_t va, uint64_t *pa);
int hart_debug_bp(const struct hart *h, uint64_t pc);
uint64_t hart_time(struct hart *h);

/* Effective privilege for data accesses (MPRV). */
static inline unsigned hart_data_priv(const struct hart *h)
{
    if (h->priv == PRV_M && (h->mstatus & MSTATUS_MPRV))
        return (unsigned)((h->mstatus >> MSTATUS_MPP_SHIFT) & 3);
    return h->priv;
}

static inline unsigned tlb_mode(unsigned priv)
{
    return priv == PRV_M ? 2 : priv;
}
#endif
