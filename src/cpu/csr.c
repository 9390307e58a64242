/* Control and status registers (privileged spec ch. 2-3), trap entry and
 * interrupt selection. */
#include "cpu/hart.h"
#include "vmm/vm.h"
#include <stdio.h>
#include <string.h>

#define MSTATUS_WMASK                                                                              \
    (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP |         \
     MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |            \
     MSTATUS_TSR)
#define SSTATUS_MASK                                                                               \
    (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS | MSTATUS_FS |            \
     MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)
#define SSTATUS_WMASK                                                                              \
    (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
/* medeleg: every implemented synchronous cause except ecall from M (3.1.8). */
#define MEDELEG_MASK 0xb3ffull

enum {
    CSR_FFLAGS = 0x001,
    CSR_FRM = 0x002,
    CSR_FCSR = 0x003,
    CSR_CYCLE = 0xc00,
    CSR_TIME = 0xc01,
    CSR_INSTRET = 0xc02,
    CSR_SSTATUS = 0x100,
    CSR_SIE = 0x104,
    CSR_STVEC = 0x105,
    CSR_SCOUNTEREN = 0x106,
    CSR_SENVCFG = 0x10a,
    CSR_SSCRATCH = 0x140,
    CSR_SEPC = 0x141,
    CSR_SCAUSE = 0x142,
    CSR_STVAL = 0x143,
    CSR_SIP = 0x144,
    CSR_SATP = 0x180,
    CSR_MVENDORID = 0xf11,
    CSR_MARCHID = 0xf12,
    CSR_MIMPID = 0xf13,
    CSR_MHARTID = 0xf14,
    CSR_MCONFIGPTR = 0xf15,
    CSR_MSTATUS = 0x300,
    CSR_MISA = 0x301,
    CSR_MEDELEG = 0x302,
    CSR_MIDELEG = 0x303,
    CSR_MIE = 0x304,
    CSR_MTVEC = 0x305,
    CSR_MCOUNTEREN = 0x306,
    CSR_MENVCFG = 0x30a,
    CSR_MCOUNTINHIBIT = 0x320,
    CSR_MSCRATCH = 0x340,
    CSR_MEPC = 0x341,
    CSR_MCAUSE = 0x342,
    CSR_MTVAL = 0x343,
    CSR_MIP = 0x344,
    CSR_PMPCFG0 = 0x3a0,
    CSR_PMPADDR0 = 0x3b0,
    CSR_TSELECT = 0x7a0, /* tdata1..3 follow; debug spec 5.7 */
    CSR_TINFO = 0x7a4,
    CSR_MCYCLE = 0xb00,
    CSR_MINSTRET = 0xb02,
};

uint64_t hart_time(struct hart *h)
{
    return vm_time(h->vm);
}

static uint64_t status_sd(uint64_t s)
{
    if ((s & MSTATUS_FS) == MSTATUS_FS || (s & MSTATUS_XS) == MSTATUS_XS ||
        (s & MSTATUS_VS) == MSTATUS_VS)
        s |= MSTATUS_SD;
    else
        s &= ~MSTATUS_SD;
    return s;
}

uint64_t hart_read_mip(struct hart *h)
{
    uint64_t mip = h->mip | atomic_load_explicit(&h->mip_async, memory_order_acquire);
    return mip;
}

uint64_t hart_sync_timers(struct hart *h, uint64_t now)
{
    uint64_t mip = h->mip, next = ~0ull;
    uint64_t mcmp = atomic_load_explicit(&h->mtimecmp, memory_order_relaxed);
    if (now >= mcmp) {
        mip |= MIP_MTIP;
    } else {
        mip &= ~MIP_MTIP;
        next = mcmp;
    }
    if (h->vm->cfg.hyp_sbi) {
        if (now >= h->stimecmp) {
            mip |= MIP_STIP;
        } else {
            mip &= ~MIP_STIP;
            if (h->stimecmp < next) next = h->stimecmp;
        }
    }
    if (mip != h->mip) {
        h->mip = mip;
        h->check = 1;
    }
    return next;
}

int hart_wakeup_pending(struct hart *h)
{
    return (hart_read_mip(h) & h->mie) != 0;
}

/* mip as an instruction reads it: the timer bits follow the compare
 * registers now, not as of the vCPU loop's last look (which may be
 * thousands of instructions old, e.g. right after a CLINT mtimecmp write). */
static uint64_t read_mip_now(struct hart *h)
{
    hart_sync_timers(h, hart_time(h));
    return hart_read_mip(h);
}

/* The counter CSRs visible below M-mode are gated by mcounteren/scounteren. */
static int counter_allowed(struct hart *h, unsigned csr)
{
    unsigned bit = csr & 31;
    if (h->priv == PRV_M) return 1;
    if (!((h->mcounteren >> bit) & 1)) return 0;
    if (h->priv == PRV_U && !((h->scounteren >> bit) & 1)) return 0;
    return 1;
}

static int fp_enabled(struct hart *h)
{
    return (h->mstatus & MSTATUS_FS) != 0;
}

static void fs_dirty(struct hart *h)
{
    h->mstatus |= MSTATUS_FS | MSTATUS_SD;
}

int csr_read(struct hart *h, unsigned csr, uint64_t *val)
{
    if (((csr >> 8) & 3) > h->priv) return -1;
    switch (csr) {
    case CSR_FFLAGS:
        if (!fp_enabled(h)) return -1;
        *val = h->fflags;
        return 0;
    case CSR_FRM:
        if (!fp_enabled(h)) return -1;
        *val = h->frm;
        return 0;
    case CSR_FCSR:
        if (!fp_enabled(h)) return -1;
        *val = (h->frm << 5) | h->fflags;
        return 0;
    case CSR_CYCLE:
    case CSR_INSTRET:
        if (!counter_allowed(h, csr)) return -1;
        *val = h->instret + h->instret_base;
        return 0;
    case CSR_TIME:
        if (!counter_allowed(h, csr)) return -1;
        *val = hart_time(h);
        return 0;
    case CSR_SSTATUS: *val = status_sd(h->mstatus) & SSTATUS_MASK; return 0;
    case CSR_SIE: *val = h->mie & h->mideleg; return 0;
    case CSR_STVEC: *val = h->stvec; return 0;
    case CSR_SCOUNTEREN: *val = h->scounteren; return 0;
    case CSR_SENVCFG: *val = h->senvcfg; return 0;
    case CSR_SSCRATCH: *val = h->sscratch; return 0;
    case CSR_SEPC: *val = h->sepc; return 0;
    case CSR_SCAUSE: *val = h->scause; return 0;
    case CSR_STVAL: *val = h->stval; return 0;
    case CSR_SIP: *val = read_mip_now(h) & h->mideleg; return 0;
    case CSR_SATP:
        if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM)) return -1;
        *val = h->satp;
        return 0;
    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MCONFIGPTR: *val = 0; return 0;
    case CSR_MHARTID: *val = h->id; return 0;
    case CSR_MSTATUS: *val = status_sd(h->mstatus); return 0;
    case CSR_MISA: *val = h->misa; return 0;
    case CSR_MEDELEG: *val = h->medeleg; return 0;
    case CSR_MIDELEG: *val = h->mideleg; return 0;
    case CSR_MIE: *val = h->mie; return 0;
    case CSR_MTVEC: *val = h->mtvec; return 0;
    case CSR_MCOUNTEREN: *val = h->mcounteren; return 0;
    case CSR_MENVCFG: *val = h->menvcfg; return 0;
    case CSR_MCOUNTINHIBIT: *val = 0; return 0;
    case CSR_MSCRATCH: *val = h->mscratch; return 0;
    case CSR_MEPC: *val = h->mepc; return 0;
    case CSR_MCAUSE: *val = h->mcause; return 0;
    case CSR_MTVAL: *val = h->mtval; return 0;
    case CSR_MIP: *val = read_mip_now(h); return 0;
    case CSR_MCYCLE:
    case CSR_MINSTRET: *val = h->instret + h->instret_base; return 0;
    }
    if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + 16) {
        if (csr & 1) return -1; /* odd pmpcfg registers do not exist on RV64 */
        unsigned idx = (csr - CSR_PMPCFG0) * 4;
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; i++)
            if (idx + i < PMP_COUNT) v |= (uint64_t)h->pmpcfg[idx + i] << (8 * i);
        *val = v;
        return 0;
    }
    if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
        unsigned i = csr - CSR_PMPADDR0;
        *val = i < PMP_COUNT ? h->pmpaddr[i] : 0;
        return 0;
    }
    /* hpmcounter3..31, mhpmcounter3..31, mhpmevent3..31: read as zero. */
    if ((csr >= 0xc03 && csr <= 0xc1f)) {
        if (!counter_allowed(h, csr)) return -1;
        *val = 0;
        return 0;
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) {
        *val = 0;
        return 0;
    }
    if (csr >= CSR_TSELECT && csr <= CSR_TINFO) {
        /* No triggers (debug spec 5.7): tdata1 reads type 0, tinfo says
         * only type 0 ("none") exists at any index. */
        *val = csr == CSR_TINFO ? 1 : 0;
        return 0;
    }
    return -1;
}

static void pmp_update(struct hart *h)
{
    h->pmp_active = 0;
    for (unsigned i = 0; i < PMP_COUNT; i++)
        if (h->pmpcfg[i] & 0x18) h->pmp_active = 1;
    mmu_flush_tlb(h);
}

static int pmp_locked(const struct hart *h, unsigned i)
{
    if (h->pmpcfg[i] & 0x80) return 1;
    /* A locked TOR entry also locks the address below it (3.7.1.3). */
    if (i + 1 < PMP_COUNT && (h->pmpcfg[i + 1] & 0x80) && ((h->pmpcfg[i + 1] >> 3) & 3) == 1)
        return 1;
    return 0;
}

int csr_write(struct hart *h, unsigned csr, uint64_t val)
{
    if (((csr >> 8) & 3) > h->priv) return -1;
    if ((csr >> 10) == 3) return -1; /* read-only */
    switch (csr) {
    case CSR_FFLAGS:
        if (!fp_enabled(h)) return -1;
        h->fflags = val & 0x1f;
        fs_dirty(h);
        return 0;
    case CSR_FRM:
        if (!fp_enabled(h)) return -1;
        h->frm = val & 7;
        fs_dirty(h);
        return 0;
    case CSR_FCSR:
        if (!fp_enabled(h)) return -1;
        h->fflags = val & 0x1f;
        h->frm = (val >> 5) & 7;
        fs_dirty(h);
        return 0;
    case CSR_SSTATUS: {
        uint64_t old = h->mstatus;
        h->mstatus = (h->mstatus & ~SSTATUS_WMASK) | (val & SSTATUS_WMASK);
        if ((old ^ h->mstatus) & (MSTATUS_SUM | MSTATUS_MXR)) mmu_flush_tlb(h);
        h->check = 1;
        return 0;
    }
    case CSR_SIE:
        h->mie = (h->mie & ~h->mideleg) | (val & h->mideleg);
        h->check = 1;
        return 0;
    case CSR_STVEC: h->stvec = val & ~2ull; return 0;
    case CSR_SCOUNTEREN: h->scounteren = val & 0xffffffff; return 0;
    case CSR_SENVCFG: h->senvcfg = val & 1; return 0; /* FIOM only */
    case CSR_SSCRATCH: h->sscratch = val; return 0;
    case CSR_SEPC: h->sepc = val & ~1ull; return 0;
    case CSR_SCAUSE: h->scause = val; return 0;
    case CSR_STVAL: h->stval = val; return 0;
    case CSR_SIP: {
        uint64_t m = MIP_SSIP & h->mideleg;
        h->mip = (h->mip & ~m) | (val & m);
        if (m && !(val & MIP_SSIP)) atomic_fetch_and(&h->mip_async, ~MIP_SSIP);
        h->check = 1;
        return 0;
    }
    case CSR_SATP: {
        if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM)) return -1;
        unsigned mode = (unsigned)(val >> 60);
        if (mode != 0 && mode != 8 && mode != 9 && mode != 10) return 0; /* WARL: ignore */
        if (mode == 0) val = 0;
        h->satp = ((uint64_t)mode << 60) | (val & ((1ull << 60) - 1));
        mmu_flush_tlb(h);
        return 0;
    }
    case CSR_MSTATUS: {
        uint64_t old = h->mstatus;
        uint64_t v = (h->mstatus & ~MSTATUS_WMASK) | (val & MSTATUS_WMASK);
        if (((v >> MSTATUS_MPP_SHIFT) & 3) == 2) /* reserved MPP: keep the old value */
            v = (v & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
        h->mstatus = v;
        if ((old ^ v) & (MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MPRV | MSTATUS_MPP)) mmu_flush_tlb(h);
        h->check = 1;
        return 0;
    }
    case CSR_MISA: return 0; /* WARL, fixed */
    case CSR_MEDELEG: h->medeleg = val & MEDELEG_MASK; return 0;
    case CSR_MIDELEG:
        h->mideleg = val & MIP_S_MASK;
        h->check = 1;
        return 0;
    case CSR_MIE:
        h->mie = val & MIP_ALL;
        h->check = 1;
        return 0;
    case CSR_MTVEC: h->mtvec = val & ~2ull; return 0;
    case CSR_MCOUNTEREN: h->mcounteren = val & 0xffffffff; return 0;
    case CSR_MENVCFG: h->menvcfg = val & 1; return 0;
    case CSR_MCOUNTINHIBIT: return 0;
    case CSR_MSCRATCH: h->mscratch = val; return 0;
    case CSR_MEPC: h->mepc = val & ~1ull; return 0;
    case CSR_MCAUSE: h->mcause = val; return 0;
    case CSR_MTVAL: h->mtval = val; return 0;
    case CSR_MIP:
        h->mip = (h->mip & ~MIP_S_MASK) | (val & MIP_S_MASK);
        if (!(val & MIP_SSIP)) atomic_fetch_and(&h->mip_async, ~MIP_SSIP);
        h->check = 1;
        return 0;
    case CSR_MCYCLE:
    case CSR_MINSTRET:
        /* The write takes effect after this instruction retires, which the
         * interpreter counts afterwards: compensate by one. */
        h->instret_base = val - h->instret - 1;
        return 0;
    }
    if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + 16) {
        if (csr & 1) return -1;
        unsigned idx = (csr - CSR_PMPCFG0) * 4;
        for (unsigned i = 0; i < 8; i++) {
            unsigned e = idx + i;
            if (e >= PMP_COUNT || (h->pmpcfg[e] & 0x80)) continue;
            uint8_t c = (uint8_t)(val >> (8 * i));
            c &= 0x9f;
            if ((c & 3) == 2) c &= ~3; /* W without R is reserved: clear both */
            h->pmpcfg[e] = c;
        }
        pmp_update(h);
        return 0;
    }
    if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
        unsigned i = csr - CSR_PMPADDR0;
        if (i < PMP_COUNT && !pmp_locked(h, i)) {
            h->pmpaddr[i] = val & ((1ull << 54) - 1);
            pmp_update(h);
        }
        return 0;
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) return 0;
    if (csr >= CSR_TSELECT && csr <= CSR_TINFO) return 0; /* no triggers: writes ignored */
    return -1;
}

void hart_trap(struct hart *h, uint64_t cause, uint64_t tval, int interrupt)
{
    unsigned from = h->priv;
    uint64_t deleg = interrupt ? h->mideleg : h->medeleg;
    uint64_t mcause = cause | (interrupt ? 1ull << 63 : 0);
    h->stats.traps++;
    if (interrupt) h->stats.interrupts++;
    h->resv_valid = 0;
    if (from <= PRV_S && ((deleg >> cause) & 1)) {
        if (!interrupt && h->pc == (h->stvec & ~3ull)) {
            /* The S-mode handler's own first instruction faulted (stvec
             * unset or unmapped): the hart would trap there forever. */
            h->fatal = 1;
            snprintf(h->fatal_msg, sizeof(h->fatal_msg),
                     "unhandled exception in S-mode: cause %llu at pc 0x%llx (tval 0x%llx) "
                     "is the trap handler's own address (stvec 0x%llx)",
                     (unsigned long long)cause, (unsigned long long)h->pc, (unsigned long long)tval,
                     (unsigned long long)h->stvec);
            h->check = 1;
            return;
        }
        h->scause = mcause;
        h->sepc = h->pc;
        h->stval = tval;
        uint64_t s = h->mstatus;
        s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0);
        s = (s & ~MSTATUS_SPP) | (from == PRV_S ? MSTATUS_SPP : 0);
        s &= ~MSTATUS_SIE;
        h->mstatus = s;
        h->priv = PRV_S;
        h->pc = (h->stvec & ~3ull) + ((h->stvec & 1) && interrupt ? 4 * cause : 0);
    } else {
        uint64_t vec = (h->mtvec & ~3ull) + ((h->mtvec & 1) && interrupt ? 4 * cause : 0);
        struct vm *vm = h->vm;
        if (!interrupt && (h->pc == vec || !bus_find_mem(&vm->bus, vec, 2) || vm->cfg.hyp_sbi)) {
            /* The handler's first instruction faulted or mtvec points at no
             * memory (no usable trap handler), or there is no M-mode
             * software at all. */
            h->fatal = 1;
            snprintf(h->fatal_msg, sizeof(h->fatal_msg),
                     "unhandled exception: cause %llu at pc 0x%llx (tval 0x%llx, mtvec 0x%llx, "
                     "previous mcause %llu at 0x%llx)",
                     (unsigned long long)cause, (unsigned long long)h->pc, (unsigned long long)tval,
                     (unsigned long long)h->mtvec, (unsigned long long)h->mcause,
                     (unsigned long long)h->mepc);
            h->check = 1; /* the state stays as it was at the fault */
            return;
        }
        h->mcause = mcause;
        h->mepc = h->pc;
        h->mtval = tval;
        uint64_t s = h->mstatus;
        s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0);
        s = (s & ~MSTATUS_MPP) | ((uint64_t)from << MSTATUS_MPP_SHIFT);
        s &= ~MSTATUS_MIE;
        h->mstatus = s;
        h->priv = PRV_M;
        h->pc = (h->mtvec & ~3ull) + ((h->mtvec & 1) && interrupt ? 4 * cause : 0);
    }
    h->check = 1;
}

int hart_mret(struct hart *h)
{
    if (h->priv != PRV_M) return -1;
    uint64_t s = h->mstatus;
    unsigned mpp = (unsigned)((s >> MSTATUS_MPP_SHIFT) & 3);
    s = (s & ~MSTATUS_MIE) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
    s |= MSTATUS_MPIE;
    s &= ~MSTATUS_MPP;
    if (mpp != PRV_M) s &= ~MSTATUS_MPRV;
    h->mstatus = s;
    h->priv = mpp;
    h->pc = h->mepc;
    h->check = 1;
    return 0;
}

int hart_sret(struct hart *h)
{
    if (h->priv < PRV_S || (h->priv == PRV_S && (h->mstatus & MSTATUS_TSR))) return -1;
    uint64_t s = h->mstatus;
    unsigned spp = (s & MSTATUS_SPP) ? PRV_S : PRV_U;
    s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
    s |= MSTATUS_SPIE;
    s &= ~MSTATUS_SPP;
    s &= ~MSTATUS_MPRV;
    h->mstatus = s;
    h->priv = spp;
    h->pc = h->sepc;
    h->check = 1;
    return 0;
}

int hart_wfi(struct hart *h)
{
    if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TW))) return -1;
    h->check = 1;
    return hart_wakeup_pending(h);
}

int hart_sfence_vma(struct hart *h, unsigned rs1)
{
    if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))) return -1;
    if (rs1) /* one address (every ASID: more than asked, as the spec allows) */
        mmu_flush_page(h, h->x[rs1]);
    else
        mmu_flush_tlb(h);
    return 0;
}

int hart_ecall(struct hart *h)
{
    if (h->priv == PRV_S && h->vm->cfg.hyp_sbi) return -1;
    return h->priv == PRV_U ? EXC_ECALL_U : h->priv == PRV_S ? EXC_ECALL_S : EXC_ECALL_M;
}

/* Interrupt priority (3.1.9): MEI, MSI, MTI, SEI, SSI, STI. */
static const uint8_t irq_order[6] = {IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI};

int hart_pending_irq(struct hart *h)
{
    uint64_t pend = hart_read_mip(h) & h->mie;
    if (!pend) return -1;
    uint64_t m_pend = pend & ~h->mideleg;
    uint64_t s_pend = pend & h->mideleg;
    int m_en = h->priv < PRV_M || (h->mstatus & MSTATUS_MIE);
    int s_en = h->priv < PRV_S || (h->priv == PRV_S && (h->mstatus & MSTATUS_SIE));
    /* Interrupts destined for M-mode come before those for S-mode. */
    uint64_t take = m_en && m_pend ? m_pend : s_en ? s_pend : 0;
    if (!take) return -1;
    for (unsigned i = 0; i < 6; i++)
        if ((take >> irq_order[i]) & 1) return irq_order[i];
    return -1;
}

/* CSRRW/S/C and their immediate forms (Zicsr): rs1 is the register's value
 * (the immediate forms take the uimm in d->rs1 themselves). A read-modify-
 * write of mip uses the software SEIP bit, not the external line (3.1.9).
 * A CSRRW with rd = x0 does not read; CSRRS/C with no bits to change do not
 * write. Returns 0, or -1 for an illegal instruction. */
int hart_csr_op(struct hart *h, const struct insn *d, uint64_t rs1, uint64_t *old)
{
    unsigned csr = (unsigned)d->imm;
    int imm_form = d->op == OP_CSRRWI || d->op == OP_CSRRSI || d->op == OP_CSRRCI;
    uint64_t src = imm_form ? d->rs1 : rs1;
    *old = 0;
    if (d->op == OP_CSRRW || d->op == OP_CSRRWI) {
        if (d->rd != REG_SINK && csr_read(h, csr, old) < 0) return -1;
        return csr_write(h, csr, src) < 0 ? -1 : 0;
    }
    if (csr_read(h, csr, old) < 0) return -1;
    if (d->rs1 == 0) return 0;
    uint64_t base = *old;
    if (csr == 0x344) base = (*old & ~MIP_SEIP) | (h->mip & MIP_SEIP);
    int set = d->op == OP_CSRRS || d->op == OP_CSRRSI;
    return csr_write(h, csr, set ? base | src : base & ~src) < 0 ? -1 : 0;
}
