/*
 * Helpers shared by the privileged-architecture tests (exceptions.c,
 * interrupts.c, csr.c, vm_*.c, pmp.c).  Each test program includes this
 * header once, so it may define functions and data.
 */
#ifndef ISA_PRIV_H
#define ISA_PRIV_H
#include "common.h"

/* ---- QEMU detection ----
 * The tests follow the privileged spec.  Where the reference QEMU (7.2)
 * deviates from it, the check is made with CHECK_QDEV: on QEMU a mismatch is
 * printed as a note and not counted; everywhere else it is a failure.
 * QEMU reports marchid == mimpid == its version and mvendorid == 0.
 *
 * Deviations of QEMU 7.2 accepted this way (each prints a "note:" line):
 *  exceptions: mepc/sepc keep bit 0; CSRRS/CSRRC with rs1 != x0 holding 0
 *    on a read-only CSR do not trap; AMO access fault is cause 5 (spec 7);
 *    MRET to S/U does not clear MPRV.  (ebreak writes mtval = 0: allowed.)
 *  interrupts: the lowest-numbered pending interrupt is taken first
 *    (spec: MEI > MSI > MTI > SEI > SSI > STI).
 *  csr: mstatus.MPP = 2 (reserved) is retained; UXL is writable.
 *  vm: a page-table read from nonexistent memory is a page fault (spec:
 *    access fault).
 *  pmp: pmpaddr bits 63:54 and pmpcfg bits 6:5 are writable; R=0/W=1 is
 *    retained; writing pmpaddr[i-1] does not update entry i's TOR range;
 *    execution runs on past the end of a sub-page executable region; A/D
 *    updates ignore PMP write permission on the PTE. */
static int qemu_flag = -1;
static int on_qemu(void)
{
    if (qemu_flag < 0) { /* first call must be in M-mode (priv_init) */
        u64 a = csr_read(marchid), i = csr_read(mimpid), v = csr_read(mvendorid);
        qemu_flag = v == 0 && a != 0 && a == i;
    }
    return qemu_flag;
}
static void priv_init(const char *name)
{
    test_name = name;
    (void)on_qemu();
    /* QEMU resets mtimecmp to 0 (MTIP pending); park the timer. */
    mmio_write64(CLINT_MTIMECMP, ~0ull);
}

#define CHECK_QDEV(name, got, exp)                                                       \
    do {                                                                                 \
        u64 _qg = (u64)(got), _qe = (u64)(exp);                                          \
        if (on_qemu() && _qg != _qe)                                                     \
            printf_("note: %s: QEMU deviates from the spec (got 0x%lx, spec 0x%lx)\n",   \
                    (name), _qg, _qe);                                                   \
        else                                                                             \
            CHECK(name, _qg, _qe);                                                       \
    } while (0)

/* ---- running an instruction at a known pc ----
 * AT_PC(pre, insns): runs `pre`, then `insns` with the address of the first
 * instruction of insns returned.  The asm may clobber t0-t2 and a7. */
#define AT_PC(pre, insns)                                                                \
    ({                                                                                   \
        u64 _pc;                                                                         \
        __asm__ volatile(pre "\n\tla %0, 1f\n1:\n\t" insns                               \
                         : "=&r"(_pc)                                                    \
                         :                                                               \
                         : "t0", "t1", "t2", "a7", "memory");                            \
        _pc;                                                                             \
    })
#define TRY2(pre, insns)                                                                 \
    ({                                                                                   \
        TRAP_EXPECT();                                                                   \
        u64 _tp = AT_PC(pre, insns);                                                     \
        TRAP_END();                                                                      \
        _tp;                                                                             \
    })
#define TRY(insns) TRY2("", insns)

#define NORVC(insn) ".option push\n\t.option norvc\n\t" insn "\n\t.option pop\n\t"

/* instruction bits at pc (16-bit value for a compressed instruction) */
static u64 insn_bits(u64 pc)
{
    u64 lo = *(volatile u16 *)pc;
    if ((lo & 3) != 3) return lo;
    return lo | ((u64)*(volatile u16 *)(pc + 2) << 16);
}

/* Check that exactly one exception was recorded with these values.  from is
 * the privilege the trap came from (checked through MPP or SPP). */
static void check_trap(const char *name, u64 cause, u64 epc, u64 tval, int handler, int from)
{
    CHECKI(name, 0, trap.count, 1);
    CHECKI(name, 1, trap.cause, cause);
    CHECKI(name, 2, trap.epc, epc);
    CHECKI(name, 3, trap.tval, tval);
    CHECKI(name, 4, trap.handler, handler);
    if (handler == PRIV_M)
        CHECKI(name, 5, (trap.status >> MSTATUS_MPP_SHIFT) & 3, from);
    else
        CHECKI(name, 5, !!(trap.status & MSTATUS_SPP), from == PRIV_S);
}
static void check_no_trap(const char *name) { CHECK(name, trap.count, 0); }

/* Expected mtval of a breakpoint: the spec allows zero or the pc; vmon
 * writes the pc, QEMU 7.2 writes zero. */
static u64 bp_tval(u64 pc) { return on_qemu() ? 0 : pc; }

/* ---- run code in a mode until its first trap ----
 * run_until_trap(priv, fn, arg) runs fn(arg) in priv (via call_in_mode) with
 * stvec/mtvec pointing at recorders: the first trap taken into S-mode is
 * recorded in s_rec and then escapes to M (through a load access fault at
 * address 0, so cause 5 must not be delegated); the first trap taken into
 * M-mode is recorded in m_rec and returns from run_until_trap.  If fn
 * returns normally, its return ecall is what gets recorded. */
struct trec {
    u64 cause, epc, tval, status, n;
};
volatile struct trec s_rec, m_rec;
extern char s_rec_entry[], m_escape_entry[];
__asm__(".pushsection .text\n"
        ".align 6\n"
        ".globl s_rec_entry\n"
        "s_rec_entry:\n"
        "  la t0, s_rec\n"
        "  csrr t1, scause\n  sd t1, 0(t0)\n"
        "  csrr t1, sepc\n  sd t1, 8(t0)\n"
        "  csrr t1, stval\n  sd t1, 16(t0)\n"
        "  csrr t1, sstatus\n  sd t1, 24(t0)\n"
        "  ld t1, 32(t0)\n  addi t1, t1, 1\n  sd t1, 32(t0)\n"
        "  ld t0, 0(zero)\n"
        "1: j 1b\n"
        ".align 6\n"
        ".globl m_escape_entry\n"
        "m_escape_entry:\n"
        "  la t0, m_rec\n"
        "  csrr t1, mcause\n  sd t1, 0(t0)\n"
        "  csrr t1, mepc\n  sd t1, 8(t0)\n"
        "  csrr t1, mtval\n  sd t1, 16(t0)\n"
        "  csrr t1, mstatus\n  sd t1, 24(t0)\n"
        "  ld t1, 32(t0)\n  addi t1, t1, 1\n  sd t1, 32(t0)\n"
        "  li t0, 3\n  la t1, g_priv\n  sw t0, 0(t1)\n"
        "  li t0, 0x1800\n  csrs mstatus, t0\n"
        "  la t0, cim_resume\n  csrw mepc, t0\n"
        "  mret\n"
        ".popsection\n");

static u64 run_until_trap(int priv, void *fn, u64 arg, u64 sp)
{
    u64 otv = csr_read(mtvec), ostv = csr_read(stvec);
    memset((void *)&s_rec, 0xff, sizeof(s_rec));
    memset((void *)&m_rec, 0xff, sizeof(m_rec));
    s_rec.n = m_rec.n = 0;
    csr_write(stvec, (u64)s_rec_entry);
    csr_write(mtvec, (u64)m_escape_entry);
    u64 r = call_in_mode(priv, fn, arg, sp);
    csr_write(mtvec, otv);
    csr_write(stvec, ostv);
    return r;
}

/* small user-mode helpers (run with call_in_mode; .text.user so that the VM
 * tests can map them with U=1).  u_ecall_pc is the address of the ecall. */
extern char u_ecall[], u_ecall_pc[], u_load64[], u_store64[], u_jump[];
__asm__(".pushsection .text.user, \"ax\"\n"
        ".globl u_ecall, u_ecall_pc, u_load64, u_store64, u_jump\n"
        "u_ecall:\n"
        "  li a7, 0\n"
        "u_ecall_pc:\n"
        "  ecall\n"
        "  ret\n"
        "u_load64:\n"
        "  ld a0, 0(a0)\n"
        "  ret\n"
        "u_store64:\n" /* stores the address itself */
        "  sd a0, 0(a0)\n"
        "  ret\n"
        "u_jump:\n" /* tail call: the target returns to our caller */
        "  jr a0\n"
        ".popsection\n");

#endif
