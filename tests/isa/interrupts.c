/*
 * Interrupts (privileged spec 1.12, 3.1.9, 3.1.6.1, 3.3.3, 4.1.3):
 * CLINT software and timer interrupts, S-level interrupts raised through
 * mip, external interrupts through the PLIC (UART THR-empty line),
 * delegation through mideleg, priority, global enable rules per privilege,
 * WFI wake-up, vectored mtvec/stvec, and mip/sip/mie/sie masking.
 */
#include "priv.h"

#define PLIC_BASE 0xc000000ul
#define PLIC_PRIO(n) (PLIC_BASE + 4 * (n))
#define PLIC_ENABLE(ctx) (PLIC_BASE + 0x2000 + 0x80 * (ctx))
#define PLIC_THRESH(ctx) (PLIC_BASE + 0x200000 + 0x1000 * (ctx))
#define PLIC_CLAIM(ctx) (PLIC_THRESH(ctx) + 4)
#define UART_IRQ 10
#define PLIC_CTX_M 0 /* hart 0 M-mode */
#define PLIC_CTX_S 1 /* hart 0 S-mode */

#define B(i) (1ull << (i))
#define S_IRQS (B(IRQ_SSI) | B(IRQ_STI) | B(IRQ_SEI))
#define M_IRQS (B(IRQ_MSI) | B(IRQ_MTI) | B(IRQ_MEI))
#define INTR (1ull << 63)

/* raw mcause/scause and mtime seen by the handler, per logged interrupt */
static volatile u64 raw_cause[IRQ_LOG_MAX], seen_time[IRQ_LOG_MAX], seen_tval[IRQ_LOG_MAX];

static void uart_ier(u8 v) { *(volatile u8 *)(UART_BASE + 1) = v; }

/* raise the UART's THR-empty interrupt on PLIC context ctx */
static void ext_arm(int ctx)
{
    mmio_write32(PLIC_PRIO(UART_IRQ), 1);
    mmio_write32(PLIC_ENABLE(PLIC_CTX_M), ctx == PLIC_CTX_M ? B(UART_IRQ) : 0);
    mmio_write32(PLIC_ENABLE(PLIC_CTX_S), ctx == PLIC_CTX_S ? B(UART_IRQ) : 0);
    mmio_write32(PLIC_THRESH(PLIC_CTX_M), 0);
    mmio_write32(PLIC_THRESH(PLIC_CTX_S), 0);
    uart_ier(0);
    uart_ier(0x02);
}

static void ext_clear(int ctx)
{
    u32 id = mmio_read32(PLIC_CLAIM(ctx));
    uart_ier(0);
    if (id) mmio_write32(PLIC_CLAIM(ctx), id);
}

static void ext_off(void)
{
    uart_ier(0);
    mmio_write32(PLIC_ENABLE(PLIC_CTX_M), 0);
    mmio_write32(PLIC_ENABLE(PLIC_CTX_S), 0);
    for (int c = 0; c < 2; c++) {
        u32 id = mmio_read32(PLIC_CLAIM(c));
        if (id) mmio_write32(PLIC_CLAIM(c), id);
    }
}

static int hook(u64 c, int handler)
{
    int i = irq_count - 1;
    if (i >= 0 && i < IRQ_LOG_MAX) {
        raw_cause[i] = handler == PRIV_M ? csr_read(mcause) : csr_read(scause);
        seen_tval[i] = handler == PRIV_M ? csr_read(mtval) : csr_read(stval);
        seen_time[i] = rdmtime();
    }
    if (handler == PRIV_M) {
        switch (c) {
        case IRQ_MEI: ext_clear(PLIC_CTX_M); break;
        case IRQ_MSI: mmio_write32(CLINT_MSIP, 0); break;
        case IRQ_MTI: mmio_write64(CLINT_MTIMECMP, ~0ull); break;
        case IRQ_SEI: /* software bit and possibly the PLIC S context */
            csr_clear(mip, B(IRQ_SEI));
            if (csr_read(mip) & B(IRQ_SEI)) ext_clear(PLIC_CTX_S);
            break;
        default: csr_clear(mip, B(c)); break;
        }
    } else {
        switch (c) {
        case IRQ_SSI: csr_clear(sip, B(IRQ_SSI)); break;
        case IRQ_SEI:
            if (mmio_read32(PLIC_ENABLE(PLIC_CTX_S))) {
                ext_clear(PLIC_CTX_S);
                if (!(csr_read(sip) & B(IRQ_SEI))) break;
            }
            csr_clear(sie, B(c)); /* software SEIP: only M can clear it */
            break;
        default: csr_clear(sie, B(c)); break; /* STIP is read-only in S */
        }
    }
    return 1;
}

/* wait (at most 1 s) until n interrupts have been logged */
static void wait_irqs(int n)
{
    u64 end = rdmtime() + 10000000;
    while (irq_count < n && rdmtime() < end)
        for (int i = 0; i < 100; i++) __asm__ volatile("nop");
}

static void reset_all(void)
{
    csr_clear(mstatus, MSTATUS_MIE | MSTATUS_SIE);
    csr_write(mie, 0);
    csr_write(mideleg, 0);
    csr_write(mip, 0);
    mmio_write32(CLINT_MSIP, 0);
    mmio_write64(CLINT_MTIMECMP, ~0ull);
    ext_off();
    irq_reset();
}

static void check_irq(const char *name, int idx, u64 cause, int handler, int prev)
{
    CHECKI(name, 0, irq_count > idx, 1);
    CHECKI(name, 1, irq_log[idx].cause, cause);
    CHECKI(name, 2, irq_log[idx].handler, handler);
    CHECKI(name, 3, irq_log[idx].prev_priv, prev);
    CHECKI(name, 4, raw_cause[idx], INTR | cause);
    CHECKI(name, 5, seen_tval[idx], 0);
}

/* ---- machine software interrupt ---- */
static void t_msi(void)
{
    reset_all();
    csr_write(mie, B(IRQ_MSI));
    mmio_write32(CLINT_MSIP, 1);
    CHECK("msip readback", mmio_read32(CLINT_MSIP), 1);
    CHECK("MSI: mip.MSIP set", !!(csr_read(mip) & B(IRQ_MSI)), 1);
    csr_clear(mip, B(IRQ_MSI));
    CHECK("MSI: mip.MSIP read-only", !!(csr_read(mip) & B(IRQ_MSI)), 1);
    for (int i = 0; i < 1000; i++) __asm__ volatile("nop");
    CHECK("MSI: not taken with MIE=0", irq_count, 0);
    u64 after;
    csr_write(mtval, 0x1234);
    __asm__ volatile("la %0, 1f\n\tcsrsi mstatus, 8\n1:\n\tnop" : "=&r"(after)::"memory");
    wait_irqs(1);
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("MSI: taken once", irq_count, 1);
    check_irq("MSI", 0, IRQ_MSI, PRIV_M, PRIV_M);
    /* taken right after the instruction that enabled it */
    CHECK("MSI: mepc = instruction after csrsi mstatus", irq_log[0].epc, after);
    CHECK("MSI: cleared in msip", mmio_read32(CLINT_MSIP), 0);
    CHECK("MSI: cleared in mip", !!(csr_read(mip) & B(IRQ_MSI)), 0);
    /* mie.MSIE = 0: pending but not taken */
    irq_reset();
    csr_write(mie, 0);
    mmio_write32(CLINT_MSIP, 1);
    csr_set(mstatus, MSTATUS_MIE);
    for (int i = 0; i < 1000; i++) __asm__ volatile("nop");
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("MSI: not taken with MSIE=0", irq_count, 0);
    mmio_write32(CLINT_MSIP, 0);
}

/* ---- machine timer interrupt ---- */
static void t_mti(void)
{
    reset_all();
    CHECK("MTI: not pending with mtimecmp = ~0", !!(csr_read(mip) & B(IRQ_MTI)), 0);
    u64 t0 = rdmtime();
    mmio_write64(CLINT_MTIMECMP, t0);
    CHECK("MTI: pending once mtime >= mtimecmp", !!(csr_read(mip) & B(IRQ_MTI)), 1);
    csr_clear(mip, B(IRQ_MTI));
    CHECK("MTI: mip.MTIP read-only", !!(csr_read(mip) & B(IRQ_MTI)), 1);
    mmio_write64(CLINT_MTIMECMP, t0 + 100000000ull);
    CHECK("MTI: cleared by a future mtimecmp", !!(csr_read(mip) & B(IRQ_MTI)), 0);
    CHECK("mtimecmp readback", mmio_read64(CLINT_MTIMECMP), t0 + 100000000ull);
    /* 32-bit halves */
    mmio_write32(CLINT_MTIMECMP + 4, 0x12345);
    mmio_write32(CLINT_MTIMECMP, 0x6789a);
    CHECK("mtimecmp 32-bit writes", mmio_read64(CLINT_MTIMECMP), 0x000123450006789aull);
    CHECK("mtimecmp 32-bit read hi", mmio_read32(CLINT_MTIMECMP + 4), 0x12345);
    mmio_write64(CLINT_MTIMECMP, ~0ull);
    /* mtime counts */
    u64 a = rdmtime();
    for (int i = 0; i < 20000; i++) __asm__ volatile("nop");
    u64 b = rdmtime();
    CHECKT("mtime advances", b > a);
    CHECK("mtime 32-bit high half", mmio_read32(CLINT_MTIME + 4), rdmtime() >> 32);
    u64 tcsr = csr_read(time);
    CHECKT("time CSR follows mtime", tcsr >= b && tcsr - b < 10000000ull);

    /* mtime is writable; time follows it and MTIP compares against it */
    u64 jump = 50000000; /* 5 s */
    u64 m0 = rdmtime();
    mmio_write64(CLINT_MTIME, m0 + jump);
    u64 m1 = rdmtime(), tc = csr_read(time);
    CHECKT("mtime write: new value", m1 >= m0 + jump && m1 < m0 + jump + 10000000);
    CHECKT("mtime write: time CSR follows", tc >= m1 && tc < m1 + 10000000);
    mmio_write64(CLINT_MTIMECMP, m0 + 1000);
    CHECK("mtime write: MTIP from new mtime", !!(csr_read(mip) & B(IRQ_MTI)), 1);
    mmio_write64(CLINT_MTIMECMP, ~0ull);
    mmio_write64(CLINT_MTIME, rdmtime() - jump);
    u64 m2 = rdmtime();
    CHECKT("mtime write back", m2 >= m0 && m2 < m0 + 10000000);

    /* a timer 1 ms ahead */
    csr_write(mie, B(IRQ_MTI));
    csr_set(mstatus, MSTATUS_MIE);
    u64 cmp = rdmtime() + 10000;
    mmio_write64(CLINT_MTIMECMP, cmp);
    int early = irq_count;
    wait_irqs(1);
    u64 after = rdmtime();
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("MTI: not taken before mtimecmp", early, 0);
    CHECK("MTI: taken once", irq_count, 1);
    check_irq("MTI", 0, IRQ_MTI, PRIV_M, PRIV_M);
    CHECKT("MTI: taken when mtime >= mtimecmp", seen_time[0] >= cmp);
    CHECKT("MTI: taken within 1 s", after - cmp < 10000000);
    csr_write(mie, 0);
}

/* ---- S-level interrupts raised by M through mip ---- */
static void t_s_level_in_m(void)
{
    static const int irqs[3] = {IRQ_SSI, IRQ_STI, IRQ_SEI};
    for (int k = 0; k < 3; k++) {
        reset_all();
        int c = irqs[k];
        csr_set(mip, B(c));
        CHECKI("mip S bit writable by M", c, !!(csr_read(mip) & B(c)), 1);
        csr_write(mie, B(c));
        csr_set(mstatus, MSTATUS_MIE);
        wait_irqs(1);
        csr_clear(mstatus, MSTATUS_MIE);
        CHECKI("undelegated S-level irq taken in M: count", c, irq_count, 1);
        check_irq("undelegated S-level irq taken in M", 0, c, PRIV_M, PRIV_M);
        CHECKI("mip S bit cleared by M", c, !!(csr_read(mip) & B(c)), 0);
    }
    reset_all();
}

/* ---- delegation through mideleg and the global enable rules ---- */
static void t_delegation(void)
{
    static const int irqs[3] = {IRQ_SSI, IRQ_STI, IRQ_SEI};
    for (int k = 0; k < 3; k++) {
        int c = irqs[k];
        reset_all();
        csr_write(mideleg, B(c));
        csr_write(mie, B(c));
        csr_set(mip, B(c));
        /* S-level interrupts are never taken in M, whatever MIE/SIE */
        csr_set(mstatus, MSTATUS_MIE | MSTATUS_SIE);
        for (int i = 0; i < 1000; i++) __asm__ volatile("nop");
        CHECKI("delegated irq not taken in M", c, irq_count, 0);
        csr_clear(mstatus, MSTATUS_MIE);
        /* in S with SIE=1: taken at once by the S handler */
        goto_priv(PRIV_S);
        wait_irqs(1);
        CHECKI("delegated irq taken in S (SIE=1): count", c, irq_count, 1);
        check_irq("delegated irq taken in S (SIE=1)", 0, c, PRIV_S, PRIV_S);
        csr_clear(sstatus, MSTATUS_SIE);
        goto_priv(PRIV_M);
        csr_clear(mip, B(c));

        /* in S with SIE=0: pending but not taken, until SIE is set */
        irq_reset();
        csr_write(mie, B(c));
        csr_set(mip, B(c));
        goto_priv(PRIV_S);
        for (int i = 0; i < 1000; i++) __asm__ volatile("nop");
        CHECKI("delegated irq not taken in S with SIE=0", c, irq_count, 0);
        CHECKI("sip shows the delegated pending bit", c, !!(csr_read(sip) & B(c)), 1);
        CHECKI("sie shows the delegated enable bit", c, !!(csr_read(sie) & B(c)), 1);
        u64 after;
        __asm__ volatile("la %0, 1f\n\tcsrsi sstatus, 2\n1:\n\tnop" : "=&r"(after)::"memory");
        wait_irqs(1);
        csr_clear(sstatus, MSTATUS_SIE);
        CHECKI("delegated irq taken once SIE=1: count", c, irq_count, 1);
        check_irq("delegated irq taken once SIE=1", 0, c, PRIV_S, PRIV_S);
        CHECKI("delegated irq: sepc = instruction after csrsi sstatus", c, irq_log[0].epc, after);
        goto_priv(PRIV_M);
        csr_clear(mip, B(c));

        /* in U: taken whatever SIE */
        irq_reset();
        csr_write(mie, B(c));
        csr_clear(mstatus, MSTATUS_SIE);
        csr_set(mip, B(c));
        goto_priv(PRIV_U);
        wait_irqs(1);
        goto_priv(PRIV_M);
        CHECKI("delegated irq taken in U with SIE=0: count", c, irq_count, 1);
        check_irq("delegated irq taken in U with SIE=0", 0, c, PRIV_S, PRIV_U);
        csr_clear(mip, B(c));
    }

    /* S-mode can raise and clear its own software interrupt through sip */
    reset_all();
    csr_write(mideleg, B(IRQ_SSI));
    csr_write(mie, B(IRQ_SSI));
    goto_priv(PRIV_S);
    csr_set(sip, B(IRQ_SSI));
    CHECK("S sets sip.SSIP", !!(csr_read(sip) & B(IRQ_SSI)), 1);
    csr_clear(sip, B(IRQ_SSI));
    CHECK("S clears sip.SSIP", !!(csr_read(sip) & B(IRQ_SSI)), 0);
    csr_set(sip, B(IRQ_SSI));
    csr_set(sstatus, MSTATUS_SIE);
    wait_irqs(1);
    csr_clear(sstatus, MSTATUS_SIE);
    goto_priv(PRIV_M);
    CHECK("S self-IPI taken", irq_count, 1);
    check_irq("S self-IPI", 0, IRQ_SSI, PRIV_S, PRIV_S);

    /* M-level interrupts are taken in S and U whatever mstatus.MIE */
    static const int privs[2] = {PRIV_S, PRIV_U};
    for (int p = 0; p < 2; p++) {
        reset_all();
        csr_write(mie, B(IRQ_MSI));
        csr_clear(mstatus, MSTATUS_MIE | MSTATUS_MPIE);
        goto_priv(privs[p]);
        mmio_write32(CLINT_MSIP, 1);
        wait_irqs(1);
        goto_priv(PRIV_M);
        CHECKI("MSI taken below M with MIE=0: count", p, irq_count, 1);
        check_irq("MSI taken below M with MIE=0", 0, IRQ_MSI, PRIV_M, privs[p]);
        /* an undelegated S-level interrupt also goes to M from S/U */
        reset_all();
        csr_write(mie, B(IRQ_SSI));
        csr_set(mip, B(IRQ_SSI));
        goto_priv(privs[p]);
        wait_irqs(1);
        goto_priv(PRIV_M);
        CHECKI("undelegated SSI taken below M with MIE=0: count", p, irq_count, 1);
        check_irq("undelegated SSI taken below M with MIE=0", 0, IRQ_SSI, PRIV_M, privs[p]);
    }
    /* M-level interrupt in M needs MIE */
    reset_all();
    csr_write(mie, B(IRQ_MSI));
    mmio_write32(CLINT_MSIP, 1);
    for (int i = 0; i < 1000; i++) __asm__ volatile("nop");
    CHECK("MSI not taken in M with MIE=0", irq_count, 0);
    reset_all();
}

/* ---- external interrupts through the PLIC ---- */
static void t_external(void)
{
    reset_all();
    csr_write(mie, B(IRQ_MEI));
    ext_arm(PLIC_CTX_M);
    for (int i = 0; i < 1000 && !(csr_read(mip) & B(IRQ_MEI)); i++) __asm__ volatile("nop");
    CHECK("MEI: mip.MEIP from PLIC", !!(csr_read(mip) & B(IRQ_MEI)), 1);
    csr_clear(mip, B(IRQ_MEI));
    CHECK("MEI: mip.MEIP read-only", !!(csr_read(mip) & B(IRQ_MEI)), 1);
    csr_set(mstatus, MSTATUS_MIE);
    wait_irqs(1);
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("MEI: taken once", irq_count, 1);
    check_irq("MEI", 0, IRQ_MEI, PRIV_M, PRIV_M);
    CHECK("MEI: cleared", !!(csr_read(mip) & B(IRQ_MEI)), 0);

    /* PLIC S context drives SEIP; delegated, it is taken in S */
    reset_all();
    csr_write(mideleg, B(IRQ_SEI));
    csr_write(mie, B(IRQ_SEI));
    ext_arm(PLIC_CTX_S);
    for (int i = 0; i < 1000 && !(csr_read(mip) & B(IRQ_SEI)); i++) __asm__ volatile("nop");
    CHECK("SEI: mip.SEIP from PLIC", !!(csr_read(mip) & B(IRQ_SEI)), 1);
    CHECK("SEI: not taken in M", irq_count, 0);
    goto_priv(PRIV_S);
    csr_set(sstatus, MSTATUS_SIE);
    wait_irqs(1);
    csr_clear(sstatus, MSTATUS_SIE);
    goto_priv(PRIV_M);
    CHECK("SEI: taken once", irq_count, 1);
    check_irq("SEI from PLIC", 0, IRQ_SEI, PRIV_S, PRIV_S);
    CHECK("SEI: cleared", !!(csr_read(mip) & B(IRQ_SEI)), 0);

    /* mip.SEIP reads as the software bit OR the PLIC line, but CSRRS/CSRRC
     * modify only the software bit: clearing another bit while the line is
     * high must not latch SEIP */
    reset_all();
    ext_arm(PLIC_CTX_S);
    for (int i = 0; i < 1000 && !(csr_read(mip) & B(IRQ_SEI)); i++) __asm__ volatile("nop");
    CHECK("SEIP: line high", !!(csr_read(mip) & B(IRQ_SEI)), 1);
    csr_clear(mip, B(IRQ_SSI));
    csr_set(mip, B(IRQ_STI));
    ext_off();
    CHECK("SEIP: csrrc/csrrs did not latch the line", csr_read(mip) & S_IRQS, B(IRQ_STI));
    csr_set(mip, B(IRQ_SEI));
    CHECK("SEIP: software bit set", !!(csr_read(mip) & B(IRQ_SEI)), 1);
    csr_clear(mip, B(IRQ_SEI));
    CHECK("SEIP: software bit cleared", !!(csr_read(mip) & B(IRQ_SEI)), 0);
    reset_all();
}

/* ---- priority: MEI > MSI > MTI > SEI > SSI > STI ----
 * QEMU 7.2 (without AIA) takes the lowest-numbered pending interrupt first,
 * against the spec's order: the order is checked with CHECK_QDEV, every
 * other property of each logged interrupt is checked per cause. */
static void check_order(const char *name, const int *order, int n, u64 deleg, int prev)
{
    u64 seen = 0;
    for (int i = 0; i < n; i++) {
        u64 c = irq_log[i].cause;
        CHECK_QDEV(name, c, (u64)order[i]);
        seen |= B(c & 63);
        int h = (deleg >> c) & 1 ? PRIV_S : PRIV_M;
        CHECKI(name, 100 + i, irq_log[i].handler, h);
        CHECKI(name, 200 + i, irq_log[i].prev_priv, prev);
        CHECKI(name, 300 + i, raw_cause[i], INTR | c);
        if (i > 0 && irq_log[i - 1].handler == PRIV_S)
            CHECKI("M-level interrupts before S-level ones", i, irq_log[i].handler, PRIV_S);
    }
    u64 want = 0;
    for (int i = 0; i < n; i++) want |= B(order[i]);
    CHECK(name, seen, want);
}

static void make_all_pending(void)
{
    ext_arm(PLIC_CTX_M);
    mmio_write32(CLINT_MSIP, 1);
    mmio_write64(CLINT_MTIMECMP, 0);
    csr_set(mip, S_IRQS);
    for (int i = 0; i < 1000 && !(csr_read(mip) & B(IRQ_MEI)); i++) __asm__ volatile("nop");
}

static void t_priority(void)
{
    static const int order[6] = {IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI};
    /* all taken by M, from M */
    reset_all();
    make_all_pending();
    csr_write(mie, M_IRQS | S_IRQS);
    CHECK("priority: all six pending", csr_read(mip) & (M_IRQS | S_IRQS), M_IRQS | S_IRQS);
    csr_set(mstatus, MSTATUS_MIE);
    wait_irqs(6);
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("priority (M): six taken", irq_count, 6);
    check_order("priority (M)", order, 6, 0, PRIV_M);

    /* S-level delegated, from S: M-level first, then S-level in order */
    reset_all();
    csr_write(mideleg, S_IRQS);
    make_all_pending();
    csr_write(mie, M_IRQS | S_IRQS);
    csr_set(mstatus, MSTATUS_SIE);
    goto_priv(PRIV_S);
    wait_irqs(6);
    csr_clear(sstatus, MSTATUS_SIE);
    goto_priv(PRIV_M);
    CHECK("priority (S, delegated): six taken", irq_count, 6);
    check_order("priority (S, delegated)", order, 6, S_IRQS, PRIV_S);

    /* mixed delegation, from U: the undelegated SEI goes to M, then the
     * delegated SSI and STI to S (U takes them whatever SIE) */
    reset_all();
    csr_write(mideleg, B(IRQ_SSI) | B(IRQ_STI));
    csr_set(mip, S_IRQS);
    csr_write(mie, S_IRQS);
    goto_priv(PRIV_U);
    wait_irqs(3);
    goto_priv(PRIV_M);
    CHECK("priority (U, mixed delegation): three taken", irq_count, 3);
    check_irq("priority (U, mixed): SEI to M", 0, IRQ_SEI, PRIV_M, PRIV_U);
    check_irq("priority (U, mixed): SSI to S", 1, IRQ_SSI, PRIV_S, PRIV_U);
    check_irq("priority (U, mixed): STI to S", 2, IRQ_STI, PRIV_S, PRIV_U);
    reset_all();
}

/* ---- WFI ---- */
static void t_wfi(void)
{
    /* M-mode, MIE=0: WFI returns when the timer becomes pending; no trap */
    reset_all();
    csr_write(mie, B(IRQ_MTI));
    u64 cmp = rdmtime() + 20000; /* 2 ms */
    mmio_write64(CLINT_MTIMECMP, cmp);
    int n = 0;
    while (!(csr_read(mip) & B(IRQ_MTI)) && n < 1000000) {
        __asm__ volatile("wfi");
        n++;
    }
    CHECK("WFI (M, MIE=0): no trap", irq_count, 0);
    CHECK("WFI (M, MIE=0): timer pending", !!(csr_read(mip) & B(IRQ_MTI)), 1);
    CHECKT("WFI (M, MIE=0): returned after mtimecmp", rdmtime() >= cmp);

    /* M-mode: a pending delegated (S-level) interrupt enabled in mie wakes
     * WFI too; a backup timer 200 ms ahead bounds the wait */
    reset_all();
    csr_write(mideleg, B(IRQ_SSI));
    csr_write(mie, B(IRQ_SSI) | B(IRQ_MTI));
    csr_set(mip, B(IRQ_SSI));
    u64 t0 = rdmtime();
    mmio_write64(CLINT_MTIMECMP, t0 + 5000000);
    __asm__ volatile("wfi");
    u64 t1 = rdmtime();
    CHECKT("WFI (M): wakes on delegated pending interrupt", t1 - t0 < 2500000);
    CHECK("WFI (M): delegated interrupt not taken", irq_count, 0);

    /* S-mode, TW=0: an M timer interrupt arrives during WFI and is taken
     * with mepc = the instruction after WFI */
    reset_all();
    csr_write(mie, B(IRQ_MTI));
    goto_priv(PRIV_S);
    mmio_write64(CLINT_MTIMECMP, rdmtime() + 20000);
    u64 after;
    __asm__ volatile("la %0, 1f\n\twfi\n1:" : "=&r"(after)::"memory");
    wait_irqs(1);
    goto_priv(PRIV_M);
    CHECK("WFI (S): interrupt taken", irq_count, 1);
    check_irq("WFI (S)", 0, IRQ_MTI, PRIV_M, PRIV_S);
    CHECK("WFI (S): mepc = instruction after WFI", irq_log[0].epc, after);

    /* S-mode, SIE=0: a pending, locally enabled S interrupt makes WFI
     * return without a trap */
    reset_all();
    csr_write(mideleg, B(IRQ_SSI));
    csr_write(mie, B(IRQ_SSI) | B(IRQ_MTI));
    mmio_write64(CLINT_MTIMECMP, rdmtime() + 5000000);
    goto_priv(PRIV_S);
    csr_set(sip, B(IRQ_SSI));
    t0 = rdmtime();
    __asm__ volatile("wfi");
    t1 = rdmtime();
    int cnt = irq_count;
    csr_clear(sip, B(IRQ_SSI));
    goto_priv(PRIV_M);
    CHECKT("WFI (S, SIE=0): returns on pending SSI", t1 - t0 < 2500000);
    CHECK("WFI (S, SIE=0): no trap", cnt, 0);
    reset_all();
}

/* ---- vectored mtvec / stvec ---- */
static void t_vectored(void)
{
    reset_all();
    csr_write(mtvec, (u64)m_vector_table | 1);
    csr_write(stvec, (u64)s_vector_table | 1);
    /* M: MSI, MTI, SSI, SEI, STI */
    make_all_pending();
    ext_off();
    csr_write(mie, M_IRQS | S_IRQS);
    csr_set(mstatus, MSTATUS_MIE);
    wait_irqs(5);
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("vectored M: five taken", irq_count, 5);
    static const int order[5] = {IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI};
    check_order("vectored M", order, 5, 0, PRIV_M);
    for (int i = 0; i < 5; i++)
        CHECKI("vectored M: entry = base + 4*cause", i, irq_log[i].vec, irq_log[i].cause);
    /* S: delegated SEI, SSI, STI */
    reset_all();
    csr_write(mideleg, S_IRQS);
    csr_write(mie, S_IRQS);
    csr_set(mip, S_IRQS);
    goto_priv(PRIV_U);
    wait_irqs(3);
    goto_priv(PRIV_M);
    CHECK("vectored S: three taken", irq_count, 3);
    check_order("vectored S", order + 2, 3, S_IRQS, PRIV_U);
    for (int i = 0; i < 3; i++)
        CHECKI("vectored S: entry = base + 4*cause", i, irq_log[i].vec, irq_log[i].cause);
    csr_write(mtvec, (u64)m_trap_entry);
    csr_write(stvec, (u64)s_trap_entry);
    reset_all();
}

/* ---- mip / sip / mie / sie masking ---- */
static void t_masking(void)
{
    reset_all();
    csr_write(mie, ~0ull);
    CHECK("mie: all six standard bits writable", csr_read(mie) & (M_IRQS | S_IRQS),
          M_IRQS | S_IRQS);
    CHECK("mie: bit 0 (reserved) reads zero", csr_read(mie) & 1, 0);
    csr_write(mie, 0);
    csr_write(mideleg, ~0ull);
    u64 md = csr_read(mideleg);
    CHECK("mideleg: S-level bits writable", md & S_IRQS, S_IRQS);
    CHECK("mideleg: M-level bits read-only zero", md & M_IRQS, 0);
    csr_write(mideleg, 0);
    CHECK("mideleg: S-level bits clear", csr_read(mideleg) & S_IRQS, 0);

    /* nothing delegated: sie/sip show nothing and do not write mie/mip */
    csr_write(sie, ~0ull);
    CHECK("sie (no deleg) reads 0", csr_read(sie), 0);
    CHECK("sie (no deleg) did not write mie", csr_read(mie), 0);
    csr_set(mip, B(IRQ_SSI));
    CHECK("sip (no deleg) hides SSIP", csr_read(sip), 0);
    csr_clear(sip, B(IRQ_SSI));
    CHECK("sip (no deleg) write ignored", !!(csr_read(mip) & B(IRQ_SSI)), 1);
    csr_clear(mip, B(IRQ_SSI));

    /* all S-level delegated */
    csr_write(mideleg, S_IRQS);
    csr_write(mie, B(IRQ_MSI));
    csr_write(sie, ~0ull);
    CHECK("sie (deleg) reads S bits", csr_read(sie), S_IRQS);
    CHECK("sie (deleg) wrote mie S bits only", csr_read(mie), S_IRQS | B(IRQ_MSI));
    csr_write(sie, 0);
    CHECK("sie = 0 keeps mie M bits", csr_read(mie), B(IRQ_MSI));
    csr_write(mie, 0);
    csr_set(mip, S_IRQS);
    CHECK("sip (deleg) shows S pending bits", csr_read(sip), S_IRQS);
    csr_write(sip, 0);
    CHECK("sip write clears SSIP only", csr_read(mip) & S_IRQS, B(IRQ_STI) | B(IRQ_SEI));
    csr_write(sip, S_IRQS);
    CHECK("sip write sets SSIP only", csr_read(mip) & S_IRQS, S_IRQS);
    csr_write(mip, 0);
    /* MSIP is visible in mip but never in sip */
    mmio_write32(CLINT_MSIP, 1);
    CHECK("sip never shows MSIP", csr_read(sip) & B(IRQ_MSI), 0);
    CHECK("mip shows MSIP", !!(csr_read(mip) & B(IRQ_MSI)), 1);
    mmio_write32(CLINT_MSIP, 0);

    /* partial delegation: only SSI */
    csr_write(mideleg, B(IRQ_SSI));
    csr_set(mip, S_IRQS);
    CHECK("sip (SSI deleg) shows SSIP only", csr_read(sip), B(IRQ_SSI));
    csr_write(sie, ~0ull);
    CHECK("sie (SSI deleg) sets SSIE only", csr_read(mie), B(IRQ_SSI));
    csr_write(mip, 0);
    csr_write(mie, 0);

    /* from S: sie/sip accessible, mie/mip/mideleg not */
    csr_write(mideleg, S_IRQS);
    goto_priv(PRIV_S);
    csr_write(sie, B(IRQ_STI));
    CHECK("S: sie readback", csr_read(sie), B(IRQ_STI));
    csr_write(sie, 0);
    TRAP_EXPECT();
    __asm__ volatile("csrr t0, mie" ::: "t0");
    __asm__ volatile("csrr t0, mip" ::: "t0");
    __asm__ volatile("csrr t0, mideleg" ::: "t0");
    TRAP_END();
    CHECK("S: mie/mip/mideleg illegal", trap.count, 3);
    CHECK("S: mie/mip/mideleg illegal cause", trap.cause, CAUSE_ILLEGAL_INSN);
    goto_priv(PRIV_M);
    reset_all();
}

int main(void)
{
    priv_init("interrupts");
    irq_hook = hook;
    t_msi();
    t_mti();
    t_s_level_in_m();
    t_delegation();
    t_external();
    t_priority();
    t_wfi();
    t_vectored();
    t_masking();
    irq_hook = 0;
    reset_all();
    return 0;
}
