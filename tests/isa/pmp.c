/*
 * Physical memory protection (privileged spec 1.12, 3.7): WARL behaviour of
 * pmpcfg/pmpaddr, TOR/NA4/NAPOT matching, priority, partial matches, access
 * faults (causes 1/5/7) for S and U, M-mode ignoring unlocked entries,
 * MPRV, page-table walks, and locked entries (last: they cannot be undone).
 */
#include "priv.h"

#define P_R 0x01
#define P_W 0x02
#define P_X 0x04
#define P_TOR 0x08
#define P_NA4 0x10
#define P_NAPOT 0x18
#define P_L 0x80
#define P_RWX (P_R | P_W | P_X)
#define FALLBACK 15
#define RAM_START 0x80000000ull

#define PMPADDR_CASES(X)                                                                 \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

static void set_addr(int i, u64 v)
{
    switch (i) {
#define W_(n)                                                                            \
    case n: csr_write(pmpaddr##n, v); break;
        PMPADDR_CASES(W_)
#undef W_
    }
    sfence_vma_all();
}
static u64 get_addr(int i)
{
    switch (i) {
#define R_(n)                                                                            \
    case n: return csr_read(pmpaddr##n);
        PMPADDR_CASES(R_)
#undef R_
    }
    return 0;
}
static void set_cfg(int i, u8 c)
{
    int sh = (i % 8) * 8;
    u64 v = i < 8 ? csr_read(pmpcfg0) : csr_read(pmpcfg2);
    v = (v & ~(0xffull << sh)) | ((u64)c << sh);
    if (i < 8)
        csr_write(pmpcfg0, v);
    else
        csr_write(pmpcfg2, v);
    sfence_vma_all();
}
static u8 get_cfg(int i)
{
    u64 v = i < 8 ? csr_read(pmpcfg0) : csr_read(pmpcfg2);
    return (u8)(v >> ((i % 8) * 8));
}
static u64 napot(u64 base, u64 size) { return (base >> 2) | ((size >> 3) - 1); }
static void entry(int i, u64 addr, u8 cfg)
{
    set_cfg(i, 0);
    set_addr(i, addr);
    set_cfg(i, cfg);
}
static void all_off(void)
{
    /* fallback first so that S/U keep running */
    entry(FALLBACK, ~0ull, P_NAPOT | P_RWX);
    for (int i = 0; i < FALLBACK; i++)
        if (!(get_cfg(i) & P_L)) set_cfg(i, 0);
}

/* ---- accesses that record their pc ---- */
static u64 acc_pc;
static u64 ld(u64 a)
{
    u64 v = 0xbadbadull, pc;
    TRAP_EXPECT();
    __asm__ volatile("la %1, 1f\n1: ld %0, 0(%2)" : "+&r"(v), "=&r"(pc) : "r"(a) : "memory");
    TRAP_END();
    acc_pc = pc;
    return v;
}
static u64 lw(u64 a)
{
    u64 v = 0xbadbadull, pc;
    TRAP_EXPECT();
    __asm__ volatile("la %1, 1f\n1: lwu %0, 0(%2)" : "+&r"(v), "=&r"(pc) : "r"(a) : "memory");
    TRAP_END();
    acc_pc = pc;
    return v;
}
static u64 lbu(u64 a)
{
    u64 v = 0xbadbadull, pc;
    TRAP_EXPECT();
    __asm__ volatile("la %1, 1f\n1: lbu %0, 0(%2)" : "+&r"(v), "=&r"(pc) : "r"(a) : "memory");
    TRAP_END();
    acc_pc = pc;
    return v;
}
static void sd(u64 a, u64 v)
{
    u64 pc;
    TRAP_EXPECT();
    __asm__ volatile("la %0, 1f\n1: sd %1, 0(%2)" : "=&r"(pc) : "r"(v), "r"(a) : "memory");
    TRAP_END();
    acc_pc = pc;
}
static u64 ex(u64 a, u64 arg)
{
    register u64 a0 __asm__("a0") = arg;
    TRAP_EXPECT();
    __asm__ volatile("jalr ra, 0(%1)" : "+r"(a0) : "r"(a) : "ra", "memory");
    TRAP_END();
    return a0;
}
static void fault(const char *name, u64 cause, u64 addr, u64 epc, int from)
{
    check_trap(name, cause, epc, addr, PRIV_M, from);
}
#define LD_FAULT(n, a, from) fault(n, CAUSE_LOAD_ACCESS, a, acc_pc, from)
#define ST_FAULT(n, a, from) fault(n, CAUSE_STORE_ACCESS, a, acc_pc, from)
#define EX_FAULT(n, a, from) fault(n, CAUSE_FETCH_ACCESS, a, a, from)

static void put_code(u64 a)
{
    ((volatile u32 *)a)[0] = 0x02a00513; /* li a0, 42 */
    ((volatile u32 *)a)[1] = 0x00008067; /* ret */
    fence_i();
}

/* test memory: 64 KiB aligned, after the image */
static u64 R;
#define PG_A (R + 0x0000)  /* NA4 tests */
#define PG_B (R + 0x1000)  /* NAPOT 4 KiB tests */
#define PG_C (R + 0x2000)  /* TOR tests (8 KiB) */
#define PG_D (R + 0x4000)  /* priority tests (in a 16 KiB NAPOT) */
#define PG_E (R + 0x8000)  /* partial execute region */
#define PG_F (R + 0x9000)  /* no-match tests */
#define PG_PT (R + 0xa000) /* page tables (3 pages) */
#define PG_L (R + 0x10000) /* locked NAPOT */
#define PG_LT (R + 0x11000) /* locked TOR */

/* ---- WARL ---- */
static void t_warl(void)
{
    all_off();
    set_addr(1, ~0ull);
    u64 v = get_addr(1);
    CHECKT("pmpaddr implemented (writable)", v != 0);
    CHECK_QDEV("pmpaddr bits 63:54 read zero", v >> 54, 0);
    int g = v ? __builtin_ctzll(v) : 0;
    printf_("pmp: granularity G = %d (%ld bytes)\n", g, 4l << g);
    /* with A = OFF/TOR, bits G-1:0 read zero; with NAPOT, bits G-2:0 read one */
    u64 pat = 0x20001234ull;
    set_addr(1, pat);
    u64 want_off = g >= 1 ? pat & ~((1ull << g) - 1) : pat;
    CHECK("pmpaddr readback (A=OFF)", get_addr(1), want_off);
    set_cfg(1, P_NAPOT);
    u64 want_napot = g >= 2 ? pat | ((1ull << (g - 1)) - 1) : pat;
    CHECK("pmpaddr readback (A=NAPOT)", get_addr(1), want_napot);
    set_cfg(1, P_TOR);
    CHECK("pmpaddr readback (A=TOR)", get_addr(1), want_off);
    set_cfg(1, 0);

    /* cfg fields */
    static const u8 cfgs[] = {P_TOR | P_RWX, P_NAPOT | P_R, P_NAPOT | P_X, P_TOR | P_R | P_W,
                              P_R | P_W | P_X /* OFF */, P_NAPOT | P_R | P_X};
    for (unsigned k = 0; k < sizeof(cfgs); k++) {
        set_cfg(2, cfgs[k]);
        CHECKI("pmpcfg readback", cfgs[k], get_cfg(2), cfgs[k]);
    }
    if (g == 0) {
        set_cfg(2, P_NA4 | P_R);
        CHECK("pmpcfg NA4 selectable (G=0)", get_cfg(2), P_NA4 | P_R);
    }
    set_cfg(2, P_NAPOT | P_R | 0x60);
    CHECK_QDEV("pmpcfg bits 6:5 read zero", get_cfg(2) & 0x60, 0);
    set_cfg(2, P_NAPOT | P_W);
    CHECK_QDEV("pmpcfg R=0 W=1 not retained", (get_cfg(2) & 3) != 2, 1);
    set_cfg(2, P_NAPOT | P_W | P_X);
    CHECK_QDEV("pmpcfg R=0 W=1 X=1 not retained", (get_cfg(2) & 3) != 2, 1);
    set_cfg(2, 0);
    /* a whole pmpcfg register at once */
    u64 save = csr_read(pmpcfg0);
    u64 w = 0x0000001f0b190f00ull; /* entries 1..4 */
    csr_write(pmpcfg0, w);
    CHECK("pmpcfg0 all bytes", csr_read(pmpcfg0), w);
    csr_write(pmpcfg0, save & 0xff);
    all_off();
}

/* ---- access control below M ---- */
static void t_na4(int p)
{
    u64 a = PG_A;
    ((volatile u64 *)a)[0] = 0x0123456789abcdefull;
    ((volatile u64 *)a)[1] = 0x1122334455667788ull;
    entry(0, (a + 8) >> 2, P_NA4); /* 4 bytes at a+8, no permission */
    goto_priv(p);
    lw(a + 8);
    LD_FAULT("NA4 deny: lw", a + 8, p);
    lbu(a + 11);
    LD_FAULT("NA4 deny: lbu last byte", a + 11, p);
    CHECK("NA4 deny: lw next word allowed", lw(a + 12), 0x11223344);
    check_no_trap("NA4 deny: next word no trap");
    CHECK("NA4 deny: ld before allowed", ld(a), 0x0123456789abcdefull);
    ld(a + 8); /* 8 bytes, only half inside the NA4 region: partial match */
    LD_FAULT("NA4 partial match: ld fails", a + 8, p);
    sd(a + 8, 0);
    ST_FAULT("NA4 deny: sd", a + 8, p);
    goto_priv(PRIV_M);
    entry(0, (a + 8) >> 2, P_NA4 | P_R);
    goto_priv(p);
    CHECK("NA4 R: lw", lw(a + 8), 0x55667788);
    check_no_trap("NA4 R: lw no trap");
    sd(a + 8, 0);
    ST_FAULT("NA4 R: sd (partial store)", a + 8, p);
    goto_priv(PRIV_M);
    /* the partial-match rule applies to M-mode too, even for an unlocked
     * entry; whole-entry accesses are unaffected */
    ld(a + 8);
    LD_FAULT("NA4 partial match: M ld fails", a + 8, PRIV_M);
    CHECK("NA4: M lw inside unlocked entry", lw(a + 8), 0x55667788);
    check_no_trap("NA4: M lw inside unlocked entry, no trap");
    set_cfg(0, 0);
    CHECK("NA4: denied store left memory unchanged", ((volatile u64 *)a)[1], 0x1122334455667788ull);
}

static void t_napot(int p)
{
    u64 b = PG_B;
    put_code(b);
    ((volatile u64 *)b)[8] = 0xfeed;
    static const u8 perms[4] = {P_R, P_X, P_R | P_W, P_RWX};
    for (int k = 0; k < 4; k++) {
        u8 c = perms[k];
        entry(1, napot(b, 4096), P_NAPOT | c);
        goto_priv(p);
        u64 v = ld(b + 64);
        if (c & P_R) {
            CHECKI("NAPOT 4K: load allowed", c, v, 0xfeed);
            check_no_trap("NAPOT 4K: load no trap");
        } else {
            LD_FAULT("NAPOT 4K: load denied", b + 64, p);
        }
        sd(b + 72, 0x99);
        if (c & P_W)
            check_no_trap("NAPOT 4K: store allowed");
        else
            ST_FAULT("NAPOT 4K: store denied", b + 72, p);
        v = ex(b, 0);
        if (c & P_X) {
            CHECKI("NAPOT 4K: exec allowed", c, v, 42);
            check_no_trap("NAPOT 4K: exec no trap");
        } else {
            EX_FAULT("NAPOT 4K: exec denied", b, p);
        }
        /* just outside: fallback entry */
        CHECKI("NAPOT 4K: load past the end allowed", c, ld(b + 4096), ((volatile u64 *)(b + 4096))[0]);
        check_no_trap("NAPOT 4K: past the end no trap");
        goto_priv(PRIV_M);
    }
    /* 8-byte NAPOT (pmpaddr ending in 0) */
    entry(1, (b + 0x100) >> 2, P_NAPOT);
    goto_priv(p);
    ld(b + 0x100);
    LD_FAULT("NAPOT 8B: denied", b + 0x100, p);
    lbu(b + 0x107);
    LD_FAULT("NAPOT 8B: last byte denied", b + 0x107, p);
    ld(b + 0x108);
    check_no_trap("NAPOT 8B: next dword allowed");
    ld(b + 0xf8);
    check_no_trap("NAPOT 8B: previous dword allowed");
    goto_priv(PRIV_M);
    set_cfg(1, 0);
}

static void t_tor(int p)
{
    u64 c = PG_C;
    put_code(c + 0x1000);
    entry(2, c >> 2, 0);
    entry(3, (c + 0x2000) >> 2, P_TOR | P_R | P_W);
    goto_priv(p);
    ld(c);
    check_no_trap("TOR RW: first dword");
    ld(c + 0x1ff8);
    check_no_trap("TOR RW: last dword");
    sd(c + 0x800, 1);
    check_no_trap("TOR RW: store");
    ex(c + 0x1000, 0);
    EX_FAULT("TOR RW: exec denied", c + 0x1000, p);
    goto_priv(PRIV_M);
    set_cfg(3, P_TOR | P_R);
    goto_priv(p);
    sd(c + 0x1ff8, 1);
    ST_FAULT("TOR R: store denied", c + 0x1ff8, p);
    sd(c + 0x2000, 1);
    check_no_trap("TOR R: store just above allowed (fallback)");
    sd(c - 8, 1);
    check_no_trap("TOR R: store just below allowed (fallback)");
    goto_priv(PRIV_M);
    set_cfg(3, P_TOR);
    goto_priv(p);
    ld(c + 0x1000);
    LD_FAULT("TOR none: load denied", c + 0x1000, p);
    goto_priv(PRIV_M);
    /* empty range (pmpaddr[i-1] >= pmpaddr[i]) matches nothing */
    set_addr(2, (c + 0x2000) >> 2);
    goto_priv(p);
    ld(c + 0x1000);
    /* QEMU 7.2 does not recompute entry i's TOR range when pmpaddr[i-1]
     * changes */
    if (on_qemu() && trap.count == 1)
        printf_("note: TOR bottom change: QEMU deviates from the spec (stale range)\n");
    else
        check_no_trap("TOR empty range: matches nothing");
    goto_priv(PRIV_M);
    set_cfg(3, 0);
    /* TOR in entry 0: lower bound 0 */
    u64 b = PG_B;
    entry(1, napot(b, 4096), P_NAPOT); /* deny page B */
    entry(0, (b + 0x40) >> 2, P_TOR | P_RWX); /* [0, b+0x40): allowed */
    goto_priv(p);
    ld(b + 0x20);
    check_no_trap("TOR entry 0: [0, top) matched, wins over entry 1");
    ld(b + 0x48);
    LD_FAULT("TOR entry 0: above top falls to entry 1", b + 0x48, p);
    goto_priv(PRIV_M);
    set_cfg(0, 0);
    set_cfg(1, 0);
}

static void t_priority(int p)
{
    u64 d = PG_D;
    entry(4, napot(d, 4096), P_NAPOT);           /* deny the 4 KiB page */
    entry(5, napot(d, 0x4000), P_NAPOT | P_RWX); /* allow the 16 KiB around it */
    goto_priv(p);
    ld(d + 0x10);
    LD_FAULT("priority: lower-numbered deny wins", d + 0x10, p);
    ld(d + 0x1000);
    check_no_trap("priority: rest of the larger region allowed");
    goto_priv(PRIV_M);
    entry(4, napot(d, 4096), P_NAPOT | P_R);
    entry(5, napot(d, 0x4000), P_NAPOT);
    goto_priv(p);
    ld(d + 0x10);
    check_no_trap("priority: lower-numbered allow wins");
    ld(d + 0x1000);
    LD_FAULT("priority: larger region denies the rest", d + 0x1000, p);
    goto_priv(PRIV_M);
    set_cfg(4, 0);
    set_cfg(5, 0);
}

/* execution must stop at the end of an execute-only region even inside a
 * page: 8 bytes executable, then a non-executable rest of the page */
static void t_exec_boundary(int p)
{
    u64 e = PG_E;
    volatile u32 *c = (volatile u32 *)e;
    c[0] = 0x00150513; /* addi a0, a0, 1 */
    c[1] = 0x00150513;
    c[2] = 0x00150513;
    c[3] = 0x00008067; /* ret */
    fence_i();
    entry(6, e >> 2, P_NAPOT | P_X);                  /* [e, e+8) X */
    entry(7, napot(e, 4096), P_NAPOT | P_R | P_W); /* rest of the page: no X */
    /* M-mode (unaffected by unlocked entries) runs the whole sequence first,
     * so a decoded copy of it may exist */
    CHECK("exec boundary: M runs all three", ex(e, 0), 3);
    goto_priv(p);
    ex(e + 8, 0);
    EX_FAULT("exec boundary: jump past the X region faults", e + 8, p);
    /* QEMU 7.2 checks PMP only when it starts a translation block: it runs
     * on into the non-executable part */
    u64 r = ex(e + 4, 0);
    if (on_qemu() && trap.count == 0) {
        printf_("note: exec boundary: QEMU deviates from the spec (ran past the X region)\n");
    } else {
        CHECK("exec boundary (from e+4): one instruction ran", r, 1);
        EX_FAULT("exec boundary: fetch past the X region faults (from e+4)", e + 8, p);
    }
    r = ex(e, 0);
    if (on_qemu() && trap.count == 0) {
        printf_("note: exec boundary: QEMU deviates from the spec (ran past the X region)\n");
    } else {
        CHECK("exec boundary: two instructions ran", r, 2);
        EX_FAULT("exec boundary: fetch past the X region faults", e + 8, p);
    }
    goto_priv(PRIV_M);
    set_cfg(7, P_NAPOT | P_RWX);
    goto_priv(p);
    r = ex(e, 0);
    CHECK("exec boundary: whole page executable", r, 3);
    check_no_trap("exec boundary: no trap when executable");
    goto_priv(PRIV_M);
    set_cfg(6, 0);
    set_cfg(7, 0);
}

static void t_nomatch(void)
{
    u64 f = PG_F;
    put_code(f);
    ((volatile u64 *)f)[4] = 0x4444;
    /* cover the image (code, data, stacks) and the UART, drop the fallback */
    entry(13, RAM_START >> 2, 0);
    entry(14, (u64)__image_end >> 2, P_TOR | P_RWX);
    entry(12, napot(UART_BASE, 4096), P_NAPOT | P_R | P_W);
    set_cfg(FALLBACK, 0);
    static const int privs[2] = {PRIV_S, PRIV_U};
    for (int k = 0; k < 2; k++) {
        int p = privs[k];
        goto_priv(p);
        ld(f + 32);
        LD_FAULT("no match: S/U load denied", f + 32, p);
        sd(f + 40, 1);
        ST_FAULT("no match: S/U store denied", f + 40, p);
        ex(f, 0);
        EX_FAULT("no match: S/U exec denied", f, p);
        ld((u64)__image_end - 8);
        check_no_trap("no match: covered memory still allowed");
        goto_priv(PRIV_M);
    }
    /* M-mode: no match means allowed */
    CHECK("no match: M load allowed", ld(f + 32), 0x4444);
    check_no_trap("no match: M load no trap");
    sd(f + 40, 1);
    check_no_trap("no match: M store no trap");
    CHECK("no match: M exec allowed", ex(f, 0), 42);
    check_no_trap("no match: M exec no trap");
    /* with no PMP entry active at all, S/U are denied everything: checked
     * implicitly above for the unmatched pages */
    all_off();
    set_cfg(12, 0);
    set_cfg(13, 0);
    set_cfg(14, 0);
}

static void t_m_mode(void)
{
    u64 b = PG_B;
    put_code(b);
    ((volatile u64 *)b)[8] = 0xfeed;
    entry(1, napot(b, 4096), P_NAPOT); /* unlocked, no permissions */
    CHECK("M ignores unlocked entries: load", ld(b + 64), 0xfeed);
    check_no_trap("M ignores unlocked entries: load no trap");
    sd(b + 72, 5);
    check_no_trap("M ignores unlocked entries: store no trap");
    CHECK("M ignores unlocked entries: exec", ex(b, 0), 42);
    check_no_trap("M ignores unlocked entries: exec no trap");
    /* MPRV with MPP=S: data accesses are checked as S */
    u64 v = 0xbad, pc;
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, 1ull << MSTATUS_MPP_SHIFT);
    TRAP_EXPECT();
    __asm__ volatile("li t0, %3\n\tcsrs mstatus, t0\n\tla %1, 1f\n1: ld %0, 64(%2)\n\tcsrc mstatus, t0"
                     : "+&r"(v), "=&r"(pc)
                     : "r"(b), "i"(MSTATUS_MPRV)
                     : "t0", "memory");
    TRAP_END();
    fault("MPRV (MPP=S): PMP checks data as S", CAUSE_LOAD_ACCESS, b + 64, pc, PRIV_M);
    CHECK("MPRV cleared", csr_read(mstatus) & MSTATUS_MPRV, 0);
    csr_set(mstatus, MSTATUS_MPP);
    set_cfg(1, 0);
}

/* implicit page-table accesses are checked as S: a PMP-denied table gives an
 * access fault of the original access type */
static void t_ptw(void)
{
    u64 *root = (u64 *)PG_PT, *t1 = (u64 *)(PG_PT + 0x1000);
    memset(root, 0, 8192);
    u64 ad = (1ull << 6) | (1ull << 7);
    root[0] = ((0ull >> 12) << 10) | 0x7 | ad;              /* 0-1G RW (UART) */
    root[2] = ((RAM_START >> 12) << 10) | 0xf | ad;         /* RAM RWX */
    root[1] = (((u64)t1 >> 12) << 10) | 1;                  /* 1-2G: table t1 */
    t1[0] = ((RAM_START >> 12) << 10) | 0x7 | ad;           /* megapage */
    entry(3, napot((u64)t1, 4096), P_NAPOT);                /* t1 not readable by S */
    csr_write(satp, (8ull << 60) | ((u64)root >> 12));
    sfence_vma_all();
    goto_priv(PRIV_S);
    ld(0x40000000ull + 0x18);
    fault("PTW: PMP-denied table: load access fault", CAUSE_LOAD_ACCESS, 0x40000018ull, acc_pc,
          PRIV_S);
    sd(0x40000000ull + 0x20, 1);
    fault("PTW: PMP-denied table: store access fault", CAUSE_STORE_ACCESS, 0x40000020ull, acc_pc,
          PRIV_S);
    ex(0x40000000ull, 0);
    fault("PTW: PMP-denied table: fetch access fault", CAUSE_FETCH_ACCESS, 0x40000000ull,
          0x40000000ull, PRIV_S);
    goto_priv(PRIV_M);
    set_cfg(3, P_NAPOT | P_R);
    goto_priv(PRIV_S);
    CHECK("PTW: readable table: translated load", ld(0x40000000ull + 0x10000),
          *(volatile u64 *)(RAM_START + 0x10000));
    check_no_trap("PTW: readable table: no trap");
    goto_priv(PRIV_M);

    /* the leaf's physical page is checked too: PMP-denied -> access fault
     * (not a page fault), tval = the virtual address */
    u64 *t0 = (u64 *)(PG_PT + 0x2000);
    memset(t0, 0, 4096);
    u64 rw = 0x7; /* V R W */
    t1[1] = (((u64)t0 >> 12) << 10) | 1; /* VA 0x4020_0000: table t0 */
    t0[0] = ((PG_B >> 12) << 10) | rw | 0x8 | ad; /* RWX */
    t0[1] = ((PG_C >> 12) << 10) | rw;                /* A = D = 0 */
    t0[2] = ((PG_C >> 12) << 10) | rw | (1ull << 6); /* A = 1, D = 0 */
    t0[3] = ((PG_C >> 12) << 10) | rw | ad;
    t0[4] = ((PG_C >> 12) << 10) | rw;                /* A = D = 0, table writable */
    *(volatile u64 *)PG_C = 0xc0c0;
    entry(1, napot(PG_B, 4096), P_NAPOT);         /* data page denied */
    entry(4, napot((u64)t0, 4096), P_NAPOT | P_R); /* t0 read-only for S */
    sfence_vma_all();
    goto_priv(PRIV_S);
    u64 va = 0x40200000ull;
    ld(va + 8);
    fault("PMP-denied leaf page: load access fault", CAUSE_LOAD_ACCESS, va + 8, acc_pc, PRIV_S);
    sd(va + 16, 1);
    fault("PMP-denied leaf page: store access fault", CAUSE_STORE_ACCESS, va + 16, acc_pc, PRIV_S);
    ex(va, 0);
    fault("PMP-denied leaf page: fetch access fault", CAUSE_FETCH_ACCESS, va, va, PRIV_S);
    /* A/D updates are stores to the PTE: a read-only (PMP) table makes them
     * access faults of the original access type */
    ld(va + 0x1000);
    if (on_qemu() && trap.count == 0) {
        printf_("note: A update to a PMP read-only PTE: QEMU deviates from the spec (no fault)\n");
    } else {
        fault("A update denied by PMP: load access fault", CAUSE_LOAD_ACCESS, va + 0x1000,
              acc_pc, PRIV_S);
        CHECK("A update denied by PMP: PTE unchanged", t0[1] & (3ull << 6), 0);
    }
    sd(va + 0x2008, 1);
    if (on_qemu() && trap.count == 0) {
        printf_("note: D update to a PMP read-only PTE: QEMU deviates from the spec (no fault)\n");
    } else {
        fault("D update denied by PMP: store access fault", CAUSE_STORE_ACCESS, va + 0x2008,
              acc_pc, PRIV_S);
        CHECK("D update denied by PMP: PTE unchanged", t0[2] & (1ull << 7), 0);
        CHECK("D update denied by PMP: memory unchanged", *(volatile u64 *)(PG_C + 8), 0);
    }
    CHECK("read-only table, A/D already set: load", ld(va + 0x3000), 0xc0c0);
    check_no_trap("read-only table, A/D already set: load, no trap");
    sd(va + 0x3010, 5);
    check_no_trap("read-only table, A/D already set: store, no trap");
    goto_priv(PRIV_M);
    set_cfg(4, 0); /* table writable again */
    sfence_vma_all();
    goto_priv(PRIV_S);
    CHECK("writable table: load with A update", ld(va + 0x4000), 0xc0c0);
    check_no_trap("writable table: load with A update, no trap");
    goto_priv(PRIV_M);
    CHECK("writable table: A set", !!(t0[4] & (1ull << 6)), 1);

    csr_write(satp, 0);
    sfence_vma_all();
    set_cfg(1, 0);
    set_cfg(3, 0);
}

/* ---- locked entries (last) ---- */
static void t_locked(void)
{
    u64 l = PG_L, lt = PG_LT;
    put_code(l);
    put_code(lt);
    ((volatile u64 *)l)[8] = 0x1010;
    entry(9, napot(l, 4096), P_NAPOT | P_R | P_L);
    CHECK("locked NAPOT: cfg reads back", get_cfg(9), P_NAPOT | P_R | P_L);
    CHECK("locked: M load allowed", ld(l + 64), 0x1010);
    check_no_trap("locked: M load no trap");
    sd(l + 72, 1);
    ST_FAULT("locked R: M store denied", l + 72, PRIV_M);
    ex(l, 0);
    EX_FAULT("locked R: M exec denied", l, PRIV_M);
    goto_priv(PRIV_S);
    sd(l + 72, 1);
    ST_FAULT("locked R: S store denied", l + 72, PRIV_S);
    CHECK("locked R: S load allowed", ld(l + 64), 0x1010);
    goto_priv(PRIV_M);
    /* writes to a locked entry are ignored */
    u64 a9 = get_addr(9);
    set_cfg(9, P_NAPOT | P_RWX);
    CHECK("locked: cfg write ignored", get_cfg(9), P_NAPOT | P_R | P_L);
    set_addr(9, 0x12345678);
    CHECK("locked: pmpaddr write ignored", get_addr(9), a9);
    sd(l + 72, 1);
    ST_FAULT("locked: still enforced after ignored writes", l + 72, PRIV_M);
    /* other entries in the same pmpcfg register stay writable */
    set_cfg(8, P_NAPOT | P_R);
    set_addr(8, napot(PG_B, 4096));
    CHECK("locked: neighbour cfg writable", get_cfg(8), P_NAPOT | P_R);
    CHECK("locked: neighbour addr writable", get_addr(8), napot(PG_B, 4096));
    set_cfg(8, 0);

    /* locked TOR also locks pmpaddr[i-1] */
    entry(10, lt >> 2, 0);
    entry(11, (lt + 0x1000) >> 2, P_TOR | P_R | P_W | P_L);
    sd(lt + 0x100, 7);
    check_no_trap("locked TOR RW: M store allowed");
    ex(lt, 0);
    EX_FAULT("locked TOR RW: M exec denied", lt, PRIV_M);
    u64 a10 = get_addr(10);
    set_addr(10, 0);
    CHECK("locked TOR: pmpaddr[i-1] write ignored", get_addr(10), a10);
    CHECK("locked TOR: cfg[i-1] still writable", (set_cfg(10, P_NAPOT), get_cfg(10)), P_NAPOT);
    set_cfg(10, 0);
    ex(lt, 0);
    EX_FAULT("locked TOR: still enforced", lt, PRIV_M);
    /* M-mode still unaffected elsewhere */
    CHECK("locked: M unaffected elsewhere", ex(PG_B, 0), 42);
    check_no_trap("locked: M unaffected elsewhere, no trap");
}

int main(void)
{
    priv_init("pmp");
    R = ((u64)__free_mem + 0xffff) & ~0xffffull;
    t_warl();
    all_off();
    static const int privs[2] = {PRIV_S, PRIV_U};
    for (int k = 0; k < 2; k++) {
        t_na4(privs[k]);
        t_napot(privs[k]);
        t_tor(privs[k]);
        t_priority(privs[k]);
        t_exec_boundary(privs[k]);
    }
    t_nomatch();
    t_m_mode();
    t_ptw();
    t_locked();
    return 0;
}
