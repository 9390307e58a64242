/*
 * Control and status registers (privileged spec 1.12, ch. 2-3, 4.1; Zicsr):
 * mstatus/sstatus fields and their WARL behaviour, misa, the ID CSRs,
 * counter enables, medeleg/mideleg, satp modes, menvcfg/senvcfg,
 * nonexistent CSRs and the read-only / write rules of the CSR instructions.
 */
#include "priv.h"

#define B(i) (1ull << (i))
#define MSTATUS_SBE (1ull << 36)
#define MSTATUS_MBE (1ull << 37)
/* every field defined for RV64 (including the H extension's GVA and MPV) */
#define MSTATUS_DEFINED                                                                  \
    (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_MPIE | MSTATUS_SPP |   \
     MSTATUS_VS | MSTATUS_MPP | MSTATUS_FS | MSTATUS_XS | MSTATUS_MPRV | MSTATUS_SUM |        \
     MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_UXL | MSTATUS_SXL |       \
     MSTATUS_SBE | MSTATUS_MBE | B(38) | B(39) | MSTATUS_SD)
#define SSTATUS_DEFINED                                                                  \
    (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS | MSTATUS_FS |      \
     MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)

/* does `insns` (run in the current mode) raise an illegal instruction? */
#define TRAPS(insns) (TRY(insns), trap.count == 1 && trap.cause == CAUSE_ILLEGAL_INSN)

/* ---- mstatus ---- */
static void t_mstatus(void)
{
    u64 save = csr_read(mstatus);
    static const struct {
        const char *name;
        u64 bit;
    } bits[] = {
        {"SIE", MSTATUS_SIE},   {"MIE", MSTATUS_MIE},   {"SPIE", MSTATUS_SPIE},
        {"MPIE", MSTATUS_MPIE}, {"SPP", MSTATUS_SPP},   {"SUM", MSTATUS_SUM},
        {"MXR", MSTATUS_MXR},   {"TVM", MSTATUS_TVM},   {"TW", MSTATUS_TW},
        {"TSR", MSTATUS_TSR},
    };
    csr_write(mie, 0);
    for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        csr_set(mstatus, bits[i].bit);
        CHECK(bits[i].name, !!(csr_read(mstatus) & bits[i].bit), 1);
        csr_clear(mstatus, bits[i].bit);
        CHECK(bits[i].name, !!(csr_read(mstatus) & bits[i].bit), 0);
    }
    /* MPRV (with MPP = M so that M's own accesses are unaffected) */
    csr_set(mstatus, MSTATUS_MPP);
    csr_set(mstatus, MSTATUS_MPRV);
    CHECK("MPRV set", !!(csr_read(mstatus) & MSTATUS_MPRV), 1);
    csr_clear(mstatus, MSTATUS_MPRV);
    CHECK("MPRV clear", !!(csr_read(mstatus) & MSTATUS_MPRV), 0);

    /* MPP: legal values 0, 1, 3 */
    static const u64 mpps[3] = {PRIV_U, PRIV_S, PRIV_M};
    for (int i = 0; i < 3; i++) {
        u64 v = (csr_read(mstatus) & ~MSTATUS_MPP) | (mpps[i] << MSTATUS_MPP_SHIFT);
        csr_write(mstatus, v);
        CHECKI("MPP legal value", i, (csr_read(mstatus) >> MSTATUS_MPP_SHIFT) & 3, mpps[i]);
    }
    csr_write(mstatus, (csr_read(mstatus) & ~MSTATUS_MPP) | (2ull << MSTATUS_MPP_SHIFT));
    u64 mpp = (csr_read(mstatus) >> MSTATUS_MPP_SHIFT) & 3;
    CHECK_QDEV("MPP = 2 (reserved) is not retained", mpp == 2, 0);
    csr_set(mstatus, MSTATUS_MPP);

    /* FS and SD */
    for (u64 fs = 0; fs < 4; fs++) {
        u64 v = (csr_read(mstatus) & ~MSTATUS_FS) | (fs << MSTATUS_FS_SHIFT);
        csr_write(mstatus, v);
        u64 r = csr_read(mstatus);
        CHECKI("FS writable", fs, (r >> MSTATUS_FS_SHIFT) & 3, fs);
        CHECKI("SD = (FS == Dirty)", fs, r >> 63, fs == 3);
        CHECKI("sstatus.SD = (FS == Dirty)", fs, csr_read(sstatus) >> 63, fs == 3);
    }
    /* writing FP state makes FS dirty */
    csr_write(mstatus, (csr_read(mstatus) & ~MSTATUS_FS) | (1ull << MSTATUS_FS_SHIFT));
    csr_write(fflags, 1);
    CHECK("fflags write sets FS dirty", (csr_read(mstatus) >> MSTATUS_FS_SHIFT) & 3, 3);
    CHECK("fflags write sets SD", csr_read(mstatus) >> 63, 1);
    csr_write(fflags, 0);
    /* FS = Off: FP CSRs are illegal */
    csr_clear(mstatus, MSTATUS_FS);
    CHECKT("FS=0: csrr fflags illegal", TRAPS("csrr t0, fflags"));
    CHECKT("FS=0: csrr frm illegal", TRAPS("csrr t0, frm"));
    CHECKT("FS=0: csrw fcsr illegal", TRAPS("csrw fcsr, zero"));
    csr_set(mstatus, 1ull << MSTATUS_FS_SHIFT);
    CHECKT("FS=1: csrr fcsr legal", !TRAPS("csrr t0, fcsr"));

    /* read-only fields: UXL = SXL = 2 (64-bit), little-endian, no XS */
    u64 r = csr_read(mstatus);
    CHECK("UXL = 2", (r >> 32) & 3, 2);
    CHECK("SXL = 2", (r >> 34) & 3, 2);
    CHECK("sstatus.UXL = 2", (csr_read(sstatus) >> 32) & 3, 2);
    csr_write(mstatus, r | MSTATUS_UBE | MSTATUS_SBE | MSTATUS_MBE | MSTATUS_XS);
    r = csr_read(mstatus);
    CHECK("UBE/SBE/MBE read 0 (little-endian only)", r & (MSTATUS_UBE | MSTATUS_SBE | MSTATUS_MBE), 0);
    CHECK("XS read-only 0", r & MSTATUS_XS, 0);
    csr_write(mstatus, (r & ~(MSTATUS_UXL | MSTATUS_SXL)) | (1ull << 32) | (1ull << 34));
    r = csr_read(mstatus);
    CHECK_QDEV("UXL not writable to 1", (r >> 32) & 3, 2);
    CHECK("SXL not writable to 1", (r >> 34) & 3, 2);
    csr_write(mstatus, (r & ~(MSTATUS_UXL | MSTATUS_SXL)));
    r = csr_read(mstatus);
    CHECK_QDEV("UXL not writable to 0", (r >> 32) & 3, 2);
    CHECK("SXL not writable to 0", (r >> 34) & 3, 2);

    /* reserved (WPRI) bits read zero */
    csr_write(mie, 0);
    csr_write(mstatus, ~(MSTATUS_MPRV | MSTATUS_SIE | MSTATUS_MIE));
    r = csr_read(mstatus);
    CHECK("mstatus reserved bits read 0", r & ~MSTATUS_DEFINED, 0);
    CHECK("mstatus SD with FS dirty", r >> 63, 1);
    csr_write(mstatus, save);

    /* sstatus is a restricted view of mstatus */
    u64 m0 = csr_read(mstatus);
    u64 s0 = csr_read(sstatus);
    CHECK("sstatus hides M-only fields", s0 & ~SSTATUS_DEFINED, 0);
    CHECK("sstatus = mstatus & view", s0, m0 & SSTATUS_DEFINED);
    u64 mfields = MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_TVM |
                  MSTATUS_TW | MSTATUS_TSR;
    csr_write(mstatus, (m0 & ~mfields) | MSTATUS_MPIE | (1ull << MSTATUS_MPP_SHIFT) | MSTATUS_TW);
    u64 m1 = csr_read(mstatus);
    csr_write(sstatus, ~0ull);
    u64 m2 = csr_read(mstatus);
    CHECK("sstatus write keeps M-only fields", m2 & mfields, m1 & mfields);
    CHECK("sstatus write sets SIE/SPIE/SPP/SUM/MXR",
          m2 & (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR),
          MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR);
    CHECK("sstatus write sets FS", (m2 >> MSTATUS_FS_SHIFT) & 3, 3);
    csr_write(sstatus, 0);
    u64 m3 = csr_read(mstatus);
    CHECK("sstatus = 0 keeps M-only fields", m3 & mfields, m1 & mfields);
    CHECK("sstatus = 0 clears S fields",
          m3 & (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_FS),
          0);
    csr_write(mstatus, save);
}

/* ---- misa and the ID registers ---- */
static void t_ids(void)
{
    u64 misa = csr_read(misa);
    u64 need = B('I' - 'A') | B('M' - 'A') | B('A' - 'A') | B('F' - 'A') | B('D' - 'A') |
               B('C' - 'A') | B('S' - 'A') | B('U' - 'A');
    CHECK("misa.MXL = 2 (64-bit)", misa >> 62, 2);
    CHECK("misa has IMAFDC + S + U", misa & need, need);
    CHECK("misa: not E", misa & B('E' - 'A'), 0);
    /* nothing beyond RV64GC+SU (QEMU 7.2 also reports H) */
    CHECK("misa: no other extensions", misa & ((1ull << 26) - 1) & ~need & ~B('H' - 'A'), 0);
    CHECK("misa: bits 61..26 zero", misa & ~(3ull << 62) & ~((1ull << 26) - 1), 0);
    csr_write(misa, misa); /* writing the same value is harmless */
    CHECK("misa unchanged", csr_read(misa), misa);

    CHECK("mhartid = 0", csr_read(mhartid), 0);
    CHECKT("mvendorid readable", !TRAPS("csrr t0, mvendorid"));
    CHECKT("marchid readable", !TRAPS("csrr t0, marchid"));
    CHECKT("mimpid readable", !TRAPS("csrr t0, mimpid"));
    CHECKT("mconfigptr readable", !TRAPS("csrr t0, mconfigptr"));
    u64 a = csr_read(mvendorid), b = csr_read(mvendorid);
    CHECK("mvendorid stable", a, b);
    CHECK("marchid MSB clear or set consistently", csr_read(marchid), csr_read(marchid));
    goto_priv(PRIV_S);
    CHECKT("S: mvendorid illegal", TRAPS("csrr t0, mvendorid"));
    CHECKT("S: mhartid illegal", TRAPS("csrr t0, mhartid"));
    CHECKT("S: misa illegal", TRAPS("csrr t0, misa"));
    goto_priv(PRIV_M);
}

/* ---- counters and counter enables ---- */
static const char *const cnt_name[4] = {"cycle", "time", "instret", "hpmcounter3"};
static int read_counter_traps(int k)
{
    switch (k) {
    case 0: return TRAPS("csrr t0, cycle");
    case 1: return TRAPS("csrr t0, time");
    case 2: return TRAPS("csrr t0, instret");
    default: return TRAPS("csrr t0, hpmcounter3");
    }
}

static void t_counters(void)
{
    csr_write(mcounteren, 0xffffffff);
    CHECK("mcounteren CY/TM/IR writable", csr_read(mcounteren) & 7, 7);
    csr_write(scounteren, 0xffffffff);
    CHECK("scounteren CY/TM/IR writable", csr_read(scounteren) & 7, 7);
    csr_write(mcounteren, 0);
    csr_write(scounteren, 0);
    CHECK("mcounteren cleared", csr_read(mcounteren), 0);

    /* M-mode reads every counter regardless */
    for (int k = 0; k < 4; k++) CHECKI("M reads counter with enables 0", k, read_counter_traps(k), 0);

    for (int m = 0; m < 2; m++)
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < 4; k++) {
                u64 bit = B(k == 3 ? 3 : k);
                /* enable only the counter under test, or everything but it */
                csr_write(mcounteren, m ? bit : 0xffffffffull & ~bit);
                csr_write(scounteren, s ? bit : 0xffffffffull & ~bit);
                goto_priv(PRIV_S);
                int ts = read_counter_traps(k);
                goto_priv(PRIV_U);
                int tu = read_counter_traps(k);
                goto_priv(PRIV_M);
                int idx = m * 100 + s * 10 + k;
                (void)cnt_name;
                CHECKI("S counter access (case = m*100 + s*10 + ctr)", idx, ts, !m);
                CHECKI("U counter access (case = m*100 + s*10 + ctr)", idx, tu, !(m && s));
            }
    csr_write(mcounteren, 0);
    csr_write(scounteren, 0);

    /* the counters count */
    u64 c0 = csr_read(cycle), i0 = csr_read(instret);
    for (int i = 0; i < 1000; i++) __asm__ volatile("nop");
    u64 c1 = csr_read(cycle), i1 = csr_read(instret);
    CHECKT("cycle increases", c1 > c0);
    CHECKT("instret increases by at least 1000", i1 - i0 >= 1000);
    CHECK("mcycle = cycle (same counter)", csr_read(mcycle) >= c1, 1);
    /* exact count over a loop with a backward branch, a forward branch
     * that skips one instruction on odd counts, and an exit branch:
     * 99 iterations of 5 instructions, +1 on the 49 even ones, 2 for the
     * last, and the first csrr itself: 547 */
    u64 e0, e1;
    __asm__ volatile("li t1, 100\n"
                     "csrr %0, instret\n"
                     "1: addi t1, t1, -1\n"
                     "beqz t1, 2f\n"
                     "andi t3, t1, 1\n"
                     "bnez t3, 3f\n"
                     "addi t4, t4, 1\n"
                     "3: bnez t1, 1b\n"
                     "2: csrr %1, instret\n"
                     : "=&r"(e0), "=r"(e1)
                     :
                     : "t1", "t3", "t4");
    /* QEMU without -icount counts host ticks here */
    CHECK_QDEV("instret counts a loop with local branches exactly", e1 - e0, 547);
    csr_write(minstret, 1000000);
    u64 i2 = csr_read(minstret);
    CHECKT("minstret writable", i2 >= 1000000 && i2 < 1000000 + (1ull << 40));
    csr_write(mcycle, 5000000);
    u64 c2 = csr_read(mcycle);
    CHECKT("mcycle writable", c2 >= 5000000 && c2 < 5000000 + (1ull << 40));
    u64 t0 = csr_read(time), t1 = rdmtime(), t2 = csr_read(time);
    CHECKT("time CSR tracks mtime", t0 <= t1 && t1 <= t2);
    /* U reads time when enabled */
    csr_write(mcounteren, 2);
    csr_write(scounteren, 2);
    goto_priv(PRIV_U);
    u64 tu = csr_read(time);
    goto_priv(PRIV_M);
    CHECKT("U time read", tu >= t2 && tu <= rdmtime());
    csr_write(mcounteren, 0);
    csr_write(scounteren, 0);
}

/* ---- medeleg / mideleg ---- */
static void t_deleg(void)
{
    csr_write(medeleg, ~0ull);
    u64 e = csr_read(medeleg);
    /* causes 0-9, 12, 13, 15 delegable; 10 and 14 reserved */
    u64 must = 0xb3ffull;
    CHECK("medeleg: standard causes writable", e & must, must);
    CHECK("medeleg: reserved cause bit 14 reads 0", e & B(14), 0);
    if (!(csr_read(misa) & B('H' - 'A'))) /* 10 = ecall from VS-mode with H */
        CHECK("medeleg: reserved cause bit 10 reads 0", e & B(10), 0);
    CHECK("medeleg: bits 16-19, 24+ read 0", e & ~0xf0ffffull, 0);
    csr_write(medeleg, 0);
    CHECK("medeleg: cleared", csr_read(medeleg) & must, 0);
    csr_write(mideleg, ~0ull);
    u64 i = csr_read(mideleg);
    CHECK("mideleg: SSI/STI/SEI writable", i & 0x222, 0x222);
    CHECK("mideleg: MSI/MTI/MEI not delegable", i & 0x888, 0);
    csr_write(mideleg, 0);
    CHECK("mideleg: cleared", csr_read(mideleg) & 0x222, 0);
}

/* ---- satp ---- */
static void t_satp(void)
{
    csr_write(satp, 0);
    CHECK("satp bare", csr_read(satp), 0);
    static const u64 modes[3] = {8, 9, 10};
    for (int k = 0; k < 3; k++) {
        u64 v = (modes[k] << 60) | (0x5ull << 44) | 0x80123ull;
        csr_write(satp, v);
        CHECKI("satp mode accepted (8=Sv39, 9=Sv48, 10=Sv57)", modes[k], csr_read(satp), v);
    }
    u64 keep = (8ull << 60) | 0x80456ull;
    csr_write(satp, keep);
    static const u64 bad[6] = {1, 2, 7, 11, 12, 15};
    for (int k = 0; k < 6; k++) {
        csr_write(satp, (bad[k] << 60) | 0x80777ull);
        CHECKI("satp unsupported mode: write ignored", bad[k], csr_read(satp), keep);
    }
    /* ASID: WARL with ASIDLEN low bits writable */
    csr_write(satp, (8ull << 60) | (0xffffull << 44) | 0x80000ull);
    u64 asid = (csr_read(satp) >> 44) & 0xffff;
    CHECK("satp ASID bits are a low mask", asid & (asid + 1), 0);
    /* PPN: 44 bits */
    csr_write(satp, (8ull << 60) | 0xfffffffffffull);
    CHECKT("satp PPN holds 44 bits", (csr_read(satp) & 0xfffffffffffull) != 0);
    csr_write(satp, 0);
    CHECK("satp back to bare", csr_read(satp), 0);
    /* S-mode access (TVM = 0) */
    goto_priv(PRIV_S);
    csr_write(satp, 0);
    CHECK("S: satp readable", csr_read(satp), 0);
    goto_priv(PRIV_M);
}

/* ---- menvcfg / senvcfg ---- */
static void t_envcfg(void)
{
    CHECKT("menvcfg exists", !TRAPS("csrr t0, menvcfg"));
    CHECKT("senvcfg exists", !TRAPS("csrr t0, senvcfg"));
    u64 m = csr_read(menvcfg), s = csr_read(senvcfg);
    csr_set(menvcfg, 1);
    CHECK("menvcfg.FIOM writable", csr_read(menvcfg) & 1, 1);
    csr_clear(menvcfg, 1);
    CHECK("menvcfg.FIOM clear", csr_read(menvcfg) & 1, 0);
    csr_set(senvcfg, 1);
    CHECK("senvcfg.FIOM writable", csr_read(senvcfg) & 1, 1);
    csr_clear(senvcfg, 1);
    CHECK("senvcfg.FIOM clear", csr_read(senvcfg) & 1, 0);
    csr_write(menvcfg, m);
    csr_write(senvcfg, s);
    goto_priv(PRIV_S);
    CHECKT("S: senvcfg accessible", !TRAPS("csrr t0, senvcfg"));
    CHECKT("S: menvcfg illegal", TRAPS("csrr t0, menvcfg"));
    goto_priv(PRIV_U);
    CHECKT("U: senvcfg illegal", TRAPS("csrr t0, senvcfg"));
    goto_priv(PRIV_M);
    CHECKT("menvcfgh does not exist on RV64", TRAPS("csrr t0, 0x31a"));
    CHECKT("mstatush does not exist on RV64", TRAPS("csrr t0, 0x310"));
}

/* ---- nonexistent CSRs, CSR instruction rules ---- */
static void t_csr_insns(void)
{
    CHECKT("csrr 0x0ff (nonexistent) illegal", TRAPS("csrr t0, 0x0ff"));
    CHECKT("csrr 0x1ff (nonexistent) illegal", TRAPS("csrr t0, 0x1ff"));
    CHECKT("csrr 0x3ff (nonexistent) illegal", TRAPS("csrr t0, 0x3ff"));
    CHECKT("csrr 0x5ff (nonexistent) illegal", TRAPS("csrr t0, 0x5ff"));
    CHECKT("csrr 0x7ff (nonexistent) illegal", TRAPS("csrr t0, 0x7ff"));
    CHECKT("csrr 0xfff (nonexistent) illegal", TRAPS("csrr t0, 0xfff"));
    CHECKT("csrw 0x3ff (nonexistent) illegal", TRAPS("csrw 0x3ff, zero"));
    CHECKT("csrrs 0x1ff, x0 (nonexistent) illegal", TRAPS("csrrs zero, 0x1ff, zero"));
    CHECKT("odd pmpcfg1 does not exist on RV64", TRAPS("csrr t0, 0x3a1"));
    /* the faulting instruction's bits land in mtval */
    u64 pc = TRY("csrrw zero, 0x3ff, zero");
    check_trap("nonexistent CSR: mtval = instruction", CAUSE_ILLEGAL_INSN, pc, insn_bits(pc),
               PRIV_M, PRIV_M);

    /* read-only CSRs: reads with x0 sources are fine, any write traps */
    CHECKT("csrrs mhartid, x0", !TRAPS("csrrs t0, mhartid, x0"));
    CHECKT("csrrc mvendorid, x0", !TRAPS("csrrc t0, mvendorid, x0"));
    CHECKT("csrrsi marchid, 0", !TRAPS("csrrsi t0, marchid, 0"));
    CHECKT("csrrci mimpid, 0", !TRAPS("csrrci t0, mimpid, 0"));
    CHECKT("csrrs cycle, x0", !TRAPS("csrrs t0, cycle, x0"));
    CHECKT("csrrw mhartid traps", TRAPS("csrrw t0, mhartid, zero"));
    CHECKT("csrrw x0, mhartid traps", TRAPS("csrrw zero, mhartid, zero"));
    CHECKT("csrrwi mvendorid traps", TRAPS("csrrwi t0, mvendorid, 0"));
    CHECKT("csrrsi mhartid, 1 traps", TRAPS("csrrsi t0, mhartid, 1"));
    CHECKT("csrrci mhartid, 1 traps", TRAPS("csrrci t0, mhartid, 1"));
    CHECKT("csrrs marchid, t1(=1) traps", TRAPS("li t1, 1\n\tcsrrs t0, marchid, t1"));
    CHECKT("csrw cycle traps", TRAPS("csrw cycle, zero"));
    CHECKT("csrw instret traps", TRAPS("csrw instret, zero"));
    CHECKT("csrw time traps", TRAPS("csrw time, zero"));
    CHECKT("csrw hpmcounter3 traps", TRAPS("csrw hpmcounter3, zero"));

    /* set / clear / swap semantics, register and immediate forms */
    u64 old, v;
    csr_write(sscratch, 0xf0f0);
    __asm__ volatile("csrrs %0, sscratch, %1" : "=r"(old) : "r"(0x0f00ull) : "memory");
    CHECK("csrrs returns old", old, 0xf0f0);
    CHECK("csrrs sets bits", csr_read(sscratch), 0xfff0);
    __asm__ volatile("csrrc %0, sscratch, %1" : "=r"(old) : "r"(0x00f0ull) : "memory");
    CHECK("csrrc returns old", old, 0xfff0);
    CHECK("csrrc clears bits", csr_read(sscratch), 0xff00);
    __asm__ volatile("csrrw %0, sscratch, %1" : "=r"(old) : "r"(0x1234ull) : "memory");
    CHECK("csrrw returns old", old, 0xff00);
    CHECK("csrrw writes", csr_read(sscratch), 0x1234);
    __asm__ volatile("csrrsi %0, sscratch, 31" : "=r"(old)::"memory");
    CHECK("csrrsi returns old", old, 0x1234);
    CHECK("csrrsi sets uimm bits", csr_read(sscratch), 0x123f);
    __asm__ volatile("csrrci %0, sscratch, 5" : "=r"(old)::"memory");
    CHECK("csrrci clears uimm bits", csr_read(sscratch), 0x123a);
    __asm__ volatile("csrrwi %0, sscratch, 17" : "=r"(old)::"memory");
    CHECK("csrrwi returns old", old, 0x123a);
    CHECK("csrrwi writes uimm", csr_read(sscratch), 17);
    __asm__ volatile("csrrs %0, sscratch, x0" : "=r"(v)::"memory");
    CHECK("csrrs x0 reads", v, 17);
    CHECK("csrrs x0 does not write", csr_read(sscratch), 17);
    __asm__ volatile("csrrc %0, sscratch, x0" : "=r"(v)::"memory");
    CHECK("csrrc x0 does not write", csr_read(sscratch), 17);
    /* rd = rs1: the old value is read before the write */
    v = 0x55;
    __asm__ volatile("csrrw %0, sscratch, %0" : "+r"(v)::"memory");
    CHECK("csrrw rd=rs1 returns old", v, 17);
    CHECK("csrrw rd=rs1 writes new", csr_read(sscratch), 0x55);
    v = 0xaa00;
    __asm__ volatile("csrrs %0, sscratch, %0" : "+r"(v)::"memory");
    CHECK("csrrs rd=rs1 returns old", v, 0x55);
    CHECK("csrrs rd=rs1 writes new", csr_read(sscratch), 0xaa55);
    /* a write to x0 destination still writes the CSR */
    __asm__ volatile("csrrw zero, sscratch, %0" ::"r"(0x77ull) : "memory");
    CHECK("csrrw rd=x0 writes", csr_read(sscratch), 0x77);

    /* S and U views */
    goto_priv(PRIV_S);
    CHECKT("S: sscratch accessible", !TRAPS("csrw sscratch, zero"));
    CHECKT("S: sstatus accessible", !TRAPS("csrr t0, sstatus"));
    CHECKT("S: stvec/sepc/scause/stval accessible",
           !TRAPS("csrr t0, stvec\n\tcsrr t0, sepc\n\tcsrr t0, scause\n\tcsrr t0, stval"));
    CHECKT("S: mscratch illegal", TRAPS("csrr t0, mscratch"));
    CHECKT("S: mcounteren illegal", TRAPS("csrr t0, mcounteren"));
    CHECKT("S: mcycle illegal", TRAPS("csrr t0, mcycle"));
    goto_priv(PRIV_U);
    CHECKT("U: sscratch illegal", TRAPS("csrr t0, sscratch"));
    CHECKT("U: scounteren illegal", TRAPS("csrr t0, scounteren"));
    CHECKT("U: fcsr accessible", !TRAPS("csrr t0, fcsr"));
    goto_priv(PRIV_M);
}

/* Debug triggers (debug spec 5.7): the CSRs exist; a hart without
 * triggers says so (tinfo = 1: only type 0) and tdata1 reads type 0. */
static void t_triggers(void)
{
    CHECKT("tselect readable", !TRAPS("csrr t0, tselect"));
    CHECKT("tselect writable", !TRAPS("csrw tselect, zero"));
    CHECKT("tdata1 readable", !TRAPS("csrr t0, tdata1"));
    CHECKT("tdata2 readable", !TRAPS("csrr t0, tdata2"));
    CHECKT("tinfo readable", !TRAPS("csrr t0, tinfo"));
    u64 info = csr_read(tinfo), t1 = csr_read(tdata1);
    if (info == 1) CHECK("no triggers: tdata1 type 0", t1 >> 60, 0);
}

int main(void)
{
    priv_init("csr");
    t_triggers();
    t_mstatus();
    t_ids();
    t_counters();
    t_deleg();
    t_satp();
    t_envcfg();
    t_csr_insns();
    return 0;
}
