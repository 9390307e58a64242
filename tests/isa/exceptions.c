/*
 * Synchronous exceptions (privileged spec 1.12, 3.1.15-3.1.17, 3.3):
 * every cause with mcause/mtval/mepc, the privilege rules that raise
 * illegal-instruction exceptions, delegation to S-mode through medeleg,
 * mepc WARL behaviour and mtvec/stvec vectored mode.
 */
#include "priv.h"

#define BAD_ADDR0 0x0ull        /* nothing mapped */
#define BAD_ADDR1 0x90000000ull /* just past 256 MiB of RAM */

/* ---- instruction address misaligned cannot happen with C ---- */
static void t_misaligned_fetch(void)
{
    u64 r;
    TRAP_EXPECT();
    __asm__ volatile("la t0, 1f\n\t"
                     "ori t0, t0, 1\n\t"
                     "li %0, 0\n\t"
                     "jalr x0, 0(t0)\n\t"
                     "li %0, 1\n"
                     "1:\n"
                     : "=&r"(r)
                     :
                     : "t0", "memory");
    TRAP_END();
    check_no_trap("jalr to odd address: no trap");
    CHECK("jalr to odd address: bit 0 cleared", r, 0);

    /* a jump to a 2-byte aligned (not 4-byte aligned) target is fine */
    TRAP_EXPECT();
    __asm__ volatile(".option push\n\t.option rvc\n\t"
                     "li %0, 0\n\t"
                     ".align 2\n\t"
                     "c.nop\n\t"
                     "j 2f\n\t"
                     "li %0, 1\n\t"
                     ".align 2\n\t"
                     "c.nop\n"
                     "2:\n\t"
                     ".option pop\n"
                     : "=&r"(r)
                     :
                     :);
    TRAP_END();
    check_no_trap("jump to 2-byte aligned target");
    CHECK("jump to 2-byte aligned target: value", r, 0);
}

/* ---- instruction access fault ---- */
static void fetch_fault(const char *name, u64 target, int priv)
{
    TRAP_EXPECT();
    __asm__ volatile("jalr ra, 0(%0)" ::"r"(target) : "ra", "memory");
    TRAP_END();
    check_trap(name, CAUSE_FETCH_ACCESS, target, target, PRIV_M, priv);
}

static void t_fetch_access(void)
{
    fetch_fault("fetch 0x0 (M)", BAD_ADDR0, PRIV_M);
    fetch_fault("fetch past RAM (M)", BAD_ADDR1, PRIV_M);
    goto_priv(PRIV_S);
    fetch_fault("fetch 0x0 (S)", BAD_ADDR0, PRIV_S);
    fetch_fault("fetch past RAM (S)", BAD_ADDR1 + 0x100, PRIV_S);
    goto_priv(PRIV_U);
    fetch_fault("fetch 0x0 (U)", BAD_ADDR0 + 0x40, PRIV_U);
    fetch_fault("fetch past RAM (U)", BAD_ADDR1, PRIV_U);
    goto_priv(PRIV_M);
}

/* ---- illegal instruction ---- */
#define ILL2(name, pre, insns, prv)                                                      \
    do {                                                                                 \
        u64 _p = TRY2(pre, insns);                                                       \
        check_trap(name, CAUSE_ILLEGAL_INSN, _p, insn_bits(_p), PRIV_M, prv);            \
    } while (0)
#define ILL(name, insns, prv) ILL2(name, "", insns, prv)
#define NOTRAP(name, insns)                                                              \
    do {                                                                                 \
        TRY(insns);                                                                      \
        check_no_trap(name);                                                             \
    } while (0)

static void t_illegal_encodings(int prv)
{
    /* all-zero 16-bit parcel (defined illegal) */
    ILL("illegal: 0x0000", ".half 0x0000", prv);
    /* reserved compressed encodings */
    ILL("illegal: c.lwsp rd=0", ".half 0x4002", prv);
    ILL("illegal: c.jr rs1=0", ".half 0x8002", prv);
    ILL("illegal: c.addi4spn imm=0", ".half 0x0004", prv);
    /* unknown major opcodes / funct fields */
    ILL("illegal: custom-0 opcode", ".word 0x0000000b", prv);
    ILL("illegal: reserved opcode 0x6b", ".word 0x8000006b", prv);
    ILL("illegal: OP funct7=0x7f", ".word 0xfe0000b3", prv);
    ILL("illegal: LOAD funct3=7", ".word 0x0000f283", prv);
    ILL("illegal: custom-3 opcode", ".word 0xffffff7b", prv);
}

static void t_illegal(void)
{
    t_illegal_encodings(PRIV_M);

    /* writes to read-only CSRs */
    ILL("csrw mhartid", "csrw mhartid, zero", PRIV_M);
    ILL("csrrwi mvendorid", "csrrwi x0, mvendorid, 0", PRIV_M);
    /* rs1 != x0 holding zero still attempts a write (QEMU 7.2 does not trap) */
    {
        u64 p = TRY2("li t1, 0", "csrrs t0, mhartid, t1");
        if (on_qemu() && trap.count == 0)
            printf_("note: csrrs mhartid, t1=0: QEMU deviates from the spec (no trap)\n");
        else
            check_trap("csrrs mhartid, rs1!=x0 (value 0)", CAUSE_ILLEGAL_INSN, p, insn_bits(p),
                       PRIV_M, PRIV_M);
    }
    ILL("csrrsi mimpid, 1", "csrrsi t0, mimpid, 1", PRIV_M);
    ILL2("csrrc marchid, rs1!=x0", "li t1, 1", "csrrc t0, marchid, t1", PRIV_M);
    ILL("csrw cycle", "csrw cycle, zero", PRIV_M);
    ILL("csrw time", "csrw time, zero", PRIV_M);
    ILL("csrw instret", "csrw instret, t0", PRIV_M);
    /* reads of read-only CSRs with x0 sources are fine */
    NOTRAP("csrrs mhartid, x0", "csrrs t0, mhartid, x0");
    NOTRAP("csrrci mimpid, 0", "csrrci t0, mimpid, 0");
    /* nonexistent CSRs */
    ILL("csrr 0x3ff (nonexistent)", "csrr t0, 0x3ff", PRIV_M);
    ILL("csrr 0x7ff (nonexistent)", "csrr t0, 0x7ff", PRIV_M);
    ILL("csrr dcsr outside debug mode", "csrr t0, 0x7b0", PRIV_M);

    /* ---- S-mode ---- */
    goto_priv(PRIV_S);
    t_illegal_encodings(PRIV_S);
    ILL("S: csrr mstatus", "csrr t0, mstatus", PRIV_S);
    ILL("S: csrr mscratch", "csrr t0, mscratch", PRIV_S);
    ILL("S: csrw mepc", "csrw mepc, zero", PRIV_S);
    ILL("S: csrr mhartid", "csrr t0, mhartid", PRIV_S);
    ILL("S: csrr medeleg", "csrr t0, medeleg", PRIV_S);
    ILL("S: csrr pmpcfg0", "csrr t0, pmpcfg0", PRIV_S);
    ILL("S: csrw cycle", "csrw cycle, zero", PRIV_S);
    ILL("S: mret", "mret", PRIV_S);
    NOTRAP("S: csrr sstatus", "csrr t0, sstatus");
    NOTRAP("S: csrr satp (TVM=0)", "csrr t0, satp");
    NOTRAP("S: sfence.vma (TVM=0)", "sfence.vma");
    /* SRET in S with TSR=0 works: return to S at the next instruction */
    NOTRAP("S: sret with TSR=0",
           "la t0, 2f\n\tcsrw sepc, t0\n\tli t0, 0x100\n\tcsrs sstatus, t0\n\tsret\n2:");
    goto_priv(PRIV_M);

    /* TSR, TW, TVM */
    csr_set(mstatus, MSTATUS_TSR | MSTATUS_TW | MSTATUS_TVM);
    /* none of them affect M-mode */
    NOTRAP("M: csrr satp with TVM", "csrr t0, satp");
    NOTRAP("M: sfence.vma with TVM", "sfence.vma");
    goto_priv(PRIV_S);
    ILL("S: sret with TSR", "sret", PRIV_S);
    ILL("S: wfi with TW", "wfi", PRIV_S);
    ILL("S: sfence.vma with TVM", "sfence.vma", PRIV_S);
    ILL("S: sfence.vma a0,zero with TVM", "sfence.vma a0, zero", PRIV_S);
    ILL("S: csrr satp with TVM", "csrr t0, satp", PRIV_S);
    ILL("S: csrw satp with TVM", "csrw satp, zero", PRIV_S);
    goto_priv(PRIV_M);
    csr_clear(mstatus, MSTATUS_TSR | MSTATUS_TW | MSTATUS_TVM);

    /* ---- U-mode ---- */
    goto_priv(PRIV_U);
    t_illegal_encodings(PRIV_U);
    ILL("U: csrr sstatus", "csrr t0, sstatus", PRIV_U);
    ILL("U: csrr mstatus", "csrr t0, mstatus", PRIV_U);
    ILL("U: csrw sscratch", "csrw sscratch, zero", PRIV_U);
    ILL("U: csrr satp", "csrr t0, satp", PRIV_U);
    ILL("U: csrr stvec", "csrr t0, stvec", PRIV_U);
    ILL("U: mret", "mret", PRIV_U);
    ILL("U: sret", "sret", PRIV_U);
    ILL("U: wfi", "wfi", PRIV_U);
    ILL("U: sfence.vma", "sfence.vma", PRIV_U);
    goto_priv(PRIV_M);
}

/* ---- breakpoint ---- */
static void t_breakpoint(void)
{
    static const int privs[3] = {PRIV_M, PRIV_S, PRIV_U};
    for (int i = 0; i < 3; i++) {
        goto_priv(privs[i]);
        u64 pc = TRY(NORVC("ebreak"));
        u64 bits = insn_bits(pc);
        check_trap("ebreak", CAUSE_BREAKPOINT, pc, bp_tval(pc), PRIV_M, privs[i]);
        CHECKI("ebreak is 4 bytes", i, bits, 0x00100073);
        pc = TRY("c.ebreak");
        bits = insn_bits(pc);
        check_trap("c.ebreak", CAUSE_BREAKPOINT, pc, bp_tval(pc), PRIV_M, privs[i]);
        CHECKI("c.ebreak is 2 bytes", i, bits, 0x9002);
        goto_priv(PRIV_M);
    }
}

/* ---- load / store access faults ---- */
static u64 try_mem(int kind, u64 addr)
{
    u64 pc = 0;
    TRAP_EXPECT();
    switch (kind) {
    case 0: __asm__ volatile("la %0, 1f\n1: ld t0, 0(%1)" : "=&r"(pc) : "r"(addr) : "t0", "memory"); break;
    case 1: __asm__ volatile("la %0, 1f\n1: lbu t0, 0(%1)" : "=&r"(pc) : "r"(addr) : "t0", "memory"); break;
    case 2: __asm__ volatile("la %0, 1f\n1: lw t0, 0(%1)" : "=&r"(pc) : "r"(addr) : "t0", "memory"); break;
    case 3: __asm__ volatile("la %0, 1f\n1: lr.w t0, (%1)" : "=&r"(pc) : "r"(addr) : "t0", "memory"); break;
    case 4: __asm__ volatile("la %0, 1f\n1: sd zero, 0(%1)" : "=&r"(pc) : "r"(addr) : "memory"); break;
    case 5: __asm__ volatile("la %0, 1f\n1: sb zero, 0(%1)" : "=&r"(pc) : "r"(addr) : "memory"); break;
    case 6: __asm__ volatile("la %0, 1f\n1: sw zero, 0(%1)" : "=&r"(pc) : "r"(addr) : "memory"); break;
    case 7: __asm__ volatile("la %0, 1f\n1: amoadd.w t0, zero, (%1)" : "=&r"(pc) : "r"(addr) : "t0", "memory"); break;
    }
    TRAP_END();
    return pc;
}

static void t_mem_access(int prv)
{
    static const char *const names[8] = {
        "ld access fault", "lbu access fault", "lw access fault", "lr.w access fault",
        "sd access fault", "sb access fault", "sw access fault", "amoadd.w access fault",
    };
    for (int k = 0; k < 8; k++) {
        u64 cause = k < 4 ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS;
        u64 a = k & 1 ? BAD_ADDR1 + 0x40 : BAD_ADDR0 + 0x80;
        u64 pc = try_mem(k, a);
        if (k == 7 && on_qemu() && trap.cause == CAUSE_LOAD_ACCESS) {
            printf_("note: amoadd.w access fault: QEMU deviates from the spec (cause 5)\n");
            continue;
        }
        check_trap(names[k], cause, pc, a, PRIV_M, prv);
    }
}

/* ---- ecall ---- */
static void t_ecall(void)
{
    static const int privs[3] = {PRIV_M, PRIV_S, PRIV_U};
    static const u64 causes[3] = {CAUSE_ECALL_M, CAUSE_ECALL_S, CAUSE_ECALL_U};
    for (int i = 0; i < 3; i++) {
        goto_priv(privs[i]);
        u64 pc = TRY2("li a7, 0", "ecall");
        check_trap("ecall", causes[i], pc, 0, PRIV_M, privs[i]);
        goto_priv(PRIV_M);
        /* also from call_in_mode's entry (mret), through the recorder */
        run_until_trap(privs[i], u_ecall, 0, 0);
        CHECKI("ecall via run_until_trap: mcause", i, m_rec.cause, causes[i]);
        CHECKI("ecall via run_until_trap: mepc", i, m_rec.epc, (u64)u_ecall_pc);
        CHECKI("ecall via run_until_trap: mtval", i, m_rec.tval, 0);
        CHECKI("ecall via run_until_trap: no S trap", i, s_rec.n, 0);
    }
}

/* ---- trap entry / return state ---- */
static void t_trap_state(void)
{
    /* MIE=1 in M: a trap saves it in MPIE and clears MIE (no interrupt is
     * enabled in mie, so nothing is taken). */
    csr_write(mie, 0);
    csr_set(mstatus, MSTATUS_MIE);
    csr_clear(mstatus, MSTATUS_MPIE);
    u64 pc = TRY(NORVC("ebreak"));
    (void)pc;
    CHECK("trap from M: MPIE = old MIE", !!(trap.status & MSTATUS_MPIE), 1);
    CHECK("trap from M: MIE cleared", !!(trap.status & MSTATUS_MIE), 0);
    CHECK("trap from M: MPP = M", (trap.status >> MSTATUS_MPP_SHIFT) & 3, PRIV_M);
    CHECK("after mret: MIE restored", !!(csr_read(mstatus) & MSTATUS_MIE), 1);
    CHECK("after mret: MPIE = 1", !!(csr_read(mstatus) & MSTATUS_MPIE), 1);
    CHECK("after mret to M: MPP = U", (csr_read(mstatus) >> MSTATUS_MPP_SHIFT) & 3, PRIV_U);
    csr_clear(mstatus, MSTATUS_MIE);

    /* MRET to S clears MPRV; sets MPIE, MIE = old MPIE */
    csr_clear(mstatus, MSTATUS_MPP | MSTATUS_MPIE);
    csr_set(mstatus, (1ull << MSTATUS_MPP_SHIFT) | MSTATUS_MPRV);
    __asm__ volatile("la t0, 1f\n\tcsrw mepc, t0\n\tmret\n1:" ::: "t0", "memory");
    g_priv = PRIV_S;
    u64 ss = csr_read(sstatus);
    CHECK("mret to S: now in S (sstatus readable)", !!(ss & MSTATUS_UXL), 1);
    TRAP_EXPECT();
    __asm__ volatile("csrr t0, mstatus" ::: "t0");
    TRAP_END();
    CHECK("mret to S: mstatus not accessible", trap.cause, CAUSE_ILLEGAL_INSN);
    goto_priv(PRIV_M);
    u64 ms = csr_read(mstatus);
    CHECK_QDEV("mret to S: MPRV cleared", !!(ms & MSTATUS_MPRV), 0);
    csr_clear(mstatus, MSTATUS_MPRV);
    CHECK("mret to S: MIE = old MPIE (0)", !!(ms & MSTATUS_MIE), 0);

    /* SRET in S: SIE = SPIE, SPIE = 1, SPP = U */
    goto_priv(PRIV_S);
    csr_clear(sstatus, MSTATUS_SIE);
    csr_set(sstatus, MSTATUS_SPIE | MSTATUS_SPP);
    __asm__ volatile("la t0, 1f\n\tcsrw sepc, t0\n\tsret\n1:" ::: "t0", "memory");
    ss = csr_read(sstatus);
    CHECK("sret: SIE = old SPIE", !!(ss & MSTATUS_SIE), 1);
    CHECK("sret: SPIE = 1", !!(ss & MSTATUS_SPIE), 1);
    CHECK("sret: SPP = U", !!(ss & MSTATUS_SPP), 0);
    csr_clear(sstatus, MSTATUS_SIE);
    goto_priv(PRIV_M);
}

/* ---- delegation through medeleg ---- */
static void t_delegation(void)
{
    csr_write(medeleg, (1ull << CAUSE_ILLEGAL_INSN) | (1ull << CAUSE_BREAKPOINT) |
                           (1ull << CAUSE_LOAD_ACCESS) | (1ull << CAUSE_STORE_ACCESS) |
                           (1ull << CAUSE_FETCH_ACCESS));
    /* from U: illegal instruction goes to S */
    goto_priv(PRIV_U);
    u64 pc = TRY(".word 0x0000000b");
    check_trap("deleg: illegal from U -> S", CAUSE_ILLEGAL_INSN, pc, 0xb, PRIV_S, PRIV_U);
    CHECK("deleg: from U, SPIE = SIE (0)", !!(trap.status & MSTATUS_SPIE), 0);
    pc = try_mem(0, BAD_ADDR0 + 8);
    check_trap("deleg: load fault from U -> S", CAUSE_LOAD_ACCESS, pc, BAD_ADDR0 + 8, PRIV_S,
               PRIV_U);
    pc = try_mem(4, BAD_ADDR1 + 16);
    check_trap("deleg: store fault from U -> S", CAUSE_STORE_ACCESS, pc, BAD_ADDR1 + 16, PRIV_S,
               PRIV_U);
    TRAP_EXPECT();
    __asm__ volatile("jalr ra, 0(%0)" ::"r"(BAD_ADDR1) : "ra", "memory");
    TRAP_END();
    check_trap("deleg: fetch fault from U -> S", CAUSE_FETCH_ACCESS, BAD_ADDR1, BAD_ADDR1, PRIV_S,
               PRIV_U);
    goto_priv(PRIV_M);

    /* from S with SIE=1: SPP=S, SPIE=1, SIE=0 */
    goto_priv(PRIV_S);
    csr_set(sstatus, MSTATUS_SIE);
    pc = TRY(NORVC("ebreak"));
    check_trap("deleg: ebreak from S -> S", CAUSE_BREAKPOINT, pc, bp_tval(pc), PRIV_S, PRIV_S);
    CHECK("deleg: from S, SPIE = old SIE", !!(trap.status & MSTATUS_SPIE), 1);
    CHECK("deleg: from S, SIE cleared in handler", !!(trap.status & MSTATUS_SIE), 0);
    CHECK("deleg: sret restored SIE", !!(csr_read(sstatus) & MSTATUS_SIE), 1);
    csr_clear(sstatus, MSTATUS_SIE);
    pc = TRY("csrr t0, mstatus");
    check_trap("deleg: illegal from S -> S", CAUSE_ILLEGAL_INSN, pc, insn_bits(pc), PRIV_S,
               PRIV_S);
    goto_priv(PRIV_M);

    /* traps never go to a lower privilege: from M they stay in M */
    pc = TRY(NORVC("ebreak"));
    check_trap("deleg: ebreak from M stays in M", CAUSE_BREAKPOINT, pc, bp_tval(pc), PRIV_M,
               PRIV_M);
    pc = TRY(".word 0x0000000b");
    check_trap("deleg: illegal from M stays in M", CAUSE_ILLEGAL_INSN, pc, 0xb, PRIV_M, PRIV_M);
    pc = try_mem(0, BAD_ADDR0);
    check_trap("deleg: load fault from M stays in M", CAUSE_LOAD_ACCESS, pc, BAD_ADDR0, PRIV_M,
               PRIV_M);

    /* a cause not delegated goes to M even from U */
    goto_priv(PRIV_U);
    pc = try_mem(3, BAD_ADDR0); /* lr.w: load access fault is delegated */
    check_trap("deleg: lr.w fault from U -> S", CAUSE_LOAD_ACCESS, pc, BAD_ADDR0, PRIV_S, PRIV_U);
    goto_priv(PRIV_M);
    csr_write(medeleg, 1ull << CAUSE_BREAKPOINT);
    goto_priv(PRIV_U);
    pc = try_mem(0, BAD_ADDR0);
    check_trap("deleg: undelegated load fault from U -> M", CAUSE_LOAD_ACCESS, pc, BAD_ADDR0,
               PRIV_M, PRIV_U);
    goto_priv(PRIV_M);

    /* delegated ecalls (recorded by s_rec_entry) */
    csr_write(medeleg, (1ull << CAUSE_ECALL_U) | (1ull << CAUSE_ECALL_S));
    csr_clear(mstatus, MSTATUS_SIE);
    run_until_trap(PRIV_U, u_ecall, 0, 0);
    CHECK("deleg ecall U: scause", s_rec.cause, CAUSE_ECALL_U);
    CHECK("deleg ecall U: sepc", s_rec.epc, (u64)u_ecall_pc);
    CHECK("deleg ecall U: stval", s_rec.tval, 0);
    CHECK("deleg ecall U: SPP = U", !!(s_rec.status & MSTATUS_SPP), 0);
    CHECK("deleg ecall U: escaped through M", m_rec.cause, CAUSE_LOAD_ACCESS);
    csr_set(mstatus, MSTATUS_SIE);
    run_until_trap(PRIV_S, u_ecall, 0, 0);
    csr_clear(mstatus, MSTATUS_SIE);
    CHECK("deleg ecall S: scause", s_rec.cause, CAUSE_ECALL_S);
    CHECK("deleg ecall S: sepc", s_rec.epc, (u64)u_ecall_pc);
    CHECK("deleg ecall S: SPP = S", !!(s_rec.status & MSTATUS_SPP), 1);
    CHECK("deleg ecall S: SPIE = 1", !!(s_rec.status & MSTATUS_SPIE), 1);
    CHECK("deleg ecall S: SIE = 0", !!(s_rec.status & MSTATUS_SIE), 0);

    /* ecall from M cannot be delegated, whatever medeleg[11] reads */
    csr_write(medeleg, ~0ull);
    u64 md = csr_read(medeleg);
    CHECK("medeleg: illegal/breakpoint/ecall-U/S/page faults delegable",
          md & 0xb3fe, 0xb3fe);
    pc = TRY2("li a7, 0", "ecall");
    check_trap("ecall from M with medeleg=~0 stays in M", CAUSE_ECALL_M, pc, 0, PRIV_M, PRIV_M);
    pc = TRY(NORVC("ebreak"));
    check_trap("ebreak from M with medeleg=~0 stays in M", CAUSE_BREAKPOINT, pc, bp_tval(pc),
               PRIV_M, PRIV_M);
    csr_write(medeleg, 0);
    CHECK("medeleg cleared", csr_read(medeleg), 0);
}

/* ---- mepc / sepc WARL ---- */
static void t_epc_warl(void)
{
    u64 old = csr_read(mepc);
    csr_write(mepc, 0x80001001ull);
    CHECK_QDEV("mepc[0] reads zero", csr_read(mepc), 0x80001000ull);
    csr_write(mepc, 0x80001002ull);
    CHECK("mepc[1] writable with C", csr_read(mepc), 0x80001002ull);
    csr_write(mepc, ~0ull);
    CHECK_QDEV("mepc = ~0 reads ~1", csr_read(mepc), ~1ull);
    csr_write(mepc, old);
    csr_write(sepc, 0x12345677ull);
    CHECK_QDEV("sepc[0] reads zero", csr_read(sepc), 0x12345676ull);
    csr_write(sepc, 0xffffffffffffffffull);
    CHECK_QDEV("sepc = ~0 reads ~1", csr_read(sepc), ~1ull);

    /* MRET to an address written into mepc (2-byte aligned) */
    u64 r;
    __asm__ volatile(".option push\n\t.option rvc\n\t"
                     "li %0, 0\n\t"
                     "li t0, 0x1800\n\t"
                     "csrs mstatus, t0\n\t" /* MPP = M */
                     "la t0, 2f\n\t"
                     "csrw mepc, t0\n\t"
                     "mret\n\t"
                     "li %0, 1\n\t"
                     ".align 2\n\t"
                     "c.nop\n"
                     "2:\n\t"
                     ".option pop\n"
                     : "=&r"(r)
                     :
                     : "t0", "memory");
    CHECK("mret to 2-byte aligned mepc", r, 0);

    /* mcause / mtval / mscratch are fully writable */
    /* (mscratch holds the trap stack: no trap may happen meanwhile) */
    u64 sv = csr_read(mscratch);
    csr_write(mscratch, 0x0123456789abcdefull);
    u64 v1 = csr_read(mscratch);
    csr_write(mscratch, ~0ull);
    u64 v2 = csr_read(mscratch);
    csr_write(mscratch, sv);
    CHECK("mscratch rw", v1, 0x0123456789abcdefull);
    CHECK("mscratch rw all ones", v2, ~0ull);
    csr_write(mtval, 0xfedcba9876543210ull);
    CHECK("mtval rw", csr_read(mtval), 0xfedcba9876543210ull);
    csr_write(stval, 0x1122334455667788ull);
    CHECK("stval rw", csr_read(stval), 0x1122334455667788ull);
    csr_write(mcause, 2);
    CHECK("mcause rw (legal value)", csr_read(mcause), 2);
    csr_write(mcause, (1ull << 63) | 7);
    CHECK("mcause rw (interrupt)", csr_read(mcause), (1ull << 63) | 7);
    csr_write(scause, 13);
    CHECK("scause rw", csr_read(scause), 13);
}

/* ---- mtvec/stvec: vectored mode applies to interrupts only ---- */
static void t_vectored(void)
{
    u64 base = (u64)m_vector_table;
    csr_write(mtvec, base | 1);
    CHECK("mtvec vectored readback", csr_read(mtvec), base | 1);
    u64 pc = TRY(NORVC("ebreak"));
    check_trap("vectored mtvec: ebreak", CAUSE_BREAKPOINT, pc, bp_tval(pc), PRIV_M, PRIV_M);
    CHECK("vectored mtvec: exception enters at base", trap.vec, 0);
    pc = TRY(".word 0x0000000b");
    CHECK("vectored mtvec: illegal enters at base", trap.vec, 0);
    goto_priv(PRIV_U); /* the ecall also enters at base */
    pc = TRY2("li a7, 0", "ecall");
    check_trap("vectored mtvec: ecall from U", CAUSE_ECALL_U, pc, 0, PRIV_M, PRIV_U);
    CHECK("vectored mtvec: ecall enters at base", trap.vec, 0);
    goto_priv(PRIV_M);

    /* an interrupt enters at base + 4 * cause (MSI = 3) */
    irq_reset();
    csr_write(mie, 1ull << IRQ_MSI);
    mmio_write32(CLINT_MSIP, 1);
    csr_set(mstatus, MSTATUS_MIE);
    for (int i = 0; i < 100000 && irq_count == 0; i++) __asm__ volatile("nop");
    csr_clear(mstatus, MSTATUS_MIE);
    csr_write(mie, 0);
    CHECK("vectored mtvec: MSI taken", irq_count, 1);
    CHECK("vectored mtvec: MSI cause", irq_log[0].cause, IRQ_MSI);
    CHECK("vectored mtvec: MSI enters at base + 12", irq_log[0].vec, IRQ_MSI);

    /* direct mode: interrupts enter at base too */
    csr_write(mtvec, (u64)m_trap_entry);
    irq_reset();
    csr_write(mie, 1ull << IRQ_MSI);
    mmio_write32(CLINT_MSIP, 1);
    csr_set(mstatus, MSTATUS_MIE);
    for (int i = 0; i < 100000 && irq_count == 0; i++) __asm__ volatile("nop");
    csr_clear(mstatus, MSTATUS_MIE);
    csr_write(mie, 0);
    CHECK("direct mtvec: MSI taken", irq_count, 1);
    CHECK("direct mtvec: MSI enters at base", irq_log[0].vec, -1);

    /* reserved modes (2, 3) are not retained */
    u64 keep = csr_read(mtvec);
    csr_write(mtvec, (u64)m_vector_table | 2);
    CHECKT("mtvec mode 2 not retained", (csr_read(mtvec) & 3) < 2);
    csr_write(mtvec, (u64)m_vector_table | 3);
    CHECKT("mtvec mode 3 not retained", (csr_read(mtvec) & 3) < 2);
    csr_write(mtvec, keep);
    CHECK("mtvec restored", csr_read(mtvec), (u64)m_trap_entry);

    /* stvec vectored: delegated exceptions enter at base */
    csr_write(stvec, (u64)s_vector_table | 1);
    CHECK("stvec vectored readback", csr_read(stvec), (u64)s_vector_table | 1);
    csr_write(medeleg, 1ull << CAUSE_BREAKPOINT);
    goto_priv(PRIV_U);
    pc = TRY(NORVC("ebreak"));
    check_trap("vectored stvec: ebreak from U", CAUSE_BREAKPOINT, pc, bp_tval(pc), PRIV_S, PRIV_U);
    CHECK("vectored stvec: exception enters at base", trap.vec, 0);
    goto_priv(PRIV_M);
    csr_write(medeleg, 0);
    csr_write(stvec, (u64)s_trap_entry);
}

int main(void)
{
    priv_init("exceptions");
    t_misaligned_fetch();
    t_fetch_access();
    t_illegal();
    t_breakpoint();
    t_mem_access(PRIV_M);
    goto_priv(PRIV_S);
    t_mem_access(PRIV_S);
    goto_priv(PRIV_U);
    t_mem_access(PRIV_U);
    goto_priv(PRIV_M);
    t_ecall();
    t_trap_state();
    t_delegation();
    t_epc_warl();
    t_vectored();
    return 0;
}
