/*
 * RV64A: LR/SC and AMOs, word and doubleword (unprivileged spec chapter 8).
 *
 * Covered: LR/SC success and failure codes (0 / nonzero), SC without a
 * reservation, SC to an address outside the reservation (another page), SC
 * invalidating the reservation even when it fails, every AMO returning the
 * old value (W forms sign-extended, touching only their 32 bits), upper bits
 * of rs2 ignored by W forms, rd = x0 / rd = rs1 / rd = rs2 aliasing, aq/rl
 * encodings, and the exceptions:
 *   misaligned AMO / SC -> store/AMO address misaligned (6), LR -> load
 *   address misaligned (4); AMO / SC to a hole in the address map -> store/AMO
 *   access fault (7), LR -> load access fault (5); AMO to an MMIO register:
 *   either performed or a store/AMO access fault (the PMA of I/O regions
 *   decides; vmon supports AMOs on RAM only).
 * See quirks.h for the QEMU 7.2 deviations that are tolerated on QEMU only.
 */
#include "common.h"
#include "quirks.h"

#define HOLE 0x18000000ul /* nothing mapped here on the virt board */

static u64 mem[1024] __attribute__((aligned(4096)));
static u64 far_mem[512] __attribute__((aligned(4096)));
static int qemu;

#define AMO(insn, addr, v)                                                                     \
    ({                                                                                         \
        u64 _r;                                                                                \
        __asm__ volatile(insn " %0, %2, (%1)" : "=r"(_r) : "r"(addr), "r"((u64)(v)) : "memory"); \
        _r;                                                                                    \
    })
#define LR(insn, addr)                                                                         \
    ({                                                                                         \
        u64 _r;                                                                                \
        __asm__ volatile(insn " %0, (%1)" : "=r"(_r) : "r"(addr) : "memory");                 \
        _r;                                                                                    \
    })
#define SC(insn, addr, v) AMO(insn, addr, v)
/* forms that leave r untouched when the instruction traps */
#define AMO_INTO(r, insn, addr, v)                                                             \
    __asm__ volatile(insn " %0, %2, (%1)" : "+r"(r) : "r"(addr), "r"((u64)(v)) : "memory")
#define LR_INTO(r, insn, addr) __asm__ volatile(insn " %0, (%1)" : "+r"(r) : "r"(addr) : "memory")

static u64 sx32(u32 v) { return (u64)(i64)(i32)v; }

/* ---- LR / SC ---- */
static void test_lrsc(void)
{
    volatile u64 *m = mem;
    volatile u32 *w = (volatile u32 *)mem;

    /* LR.D / SC.D success */
    m[0] = 0x1122334455667788ull;
    u64 v = LR("lr.d", &m[0]);
    u64 r = SC("sc.d", &m[0], 0xa5a5a5a5a5a5a5a5ull);
    CHECK("lr.d value", v, 0x1122334455667788ull);
    CHECK("sc.d success rd", r, 0);
    CHECK("sc.d stored", m[0], 0xa5a5a5a5a5a5a5a5ull);
    /* the reservation is gone: a second SC fails and writes nothing */
    r = SC("sc.d", &m[0], 1);
    CHECKT("sc.d again fails", r != 0);
    CHECK("sc.d again no store", m[0], 0xa5a5a5a5a5a5a5a5ull);

    /* LR.W sign-extends; SC.W writes 32 bits only */
    m[1] = 0x55555555f0000001ull;
    v = LR("lr.w", &w[2]);
    CHECK("lr.w sext", v, 0xfffffffff0000001ull);
    r = SC("sc.w", &w[2], 0xffffffff12345678ull);
    CHECK("sc.w success rd", r, 0);
    CHECK("sc.w stored", m[1], 0x5555555512345678ull);
    v = LR("lr.w", &w[3]);
    CHECK("lr.w high word", v, 0x55555555);
    r = SC("sc.w", &w[3], 0x87654321);
    CHECK("sc.w high rd", r, 0);
    CHECK("sc.w high stored", m[1], 0x8765432112345678ull);

    /* SC without any LR before it (previous SC consumed the reservation) */
    m[2] = 7;
    r = SC("sc.w", &m[2], 9);
    CHECKT("sc.w no lr fails", r != 0);
    CHECK("sc.w no lr no store", m[2], 7);
    r = SC("sc.d", &m[2], 9);
    CHECKT("sc.d no lr fails", r != 0);
    CHECK("sc.d no lr no store", m[2], 7);

    /* SC to an address outside the reservation set (another page) */
    far_mem[0] = 100;
    m[3] = 200;
    (void)LR("lr.d", &m[3]);
    r = SC("sc.d", &far_mem[0], 300);
    CHECKT("sc.d other addr fails", r != 0);
    CHECK("sc.d other addr no store", far_mem[0], 100);
    /* ... and that failed SC invalidated the reservation on m[3] */
    r = SC("sc.d", &m[3], 400);
    CHECKT("sc after failed sc fails", r != 0);
    CHECK("sc after failed sc no store", m[3], 200);
    (void)LR("lr.w", &m[3]);
    r = SC("sc.w", &far_mem[1], 300);
    CHECKT("sc.w other addr fails", r != 0);
    CHECK("sc.w other addr no store", far_mem[1], 0);

    /* a newer LR replaces the reservation */
    m[4] = 1;
    m[5] = 2;
    (void)LR("lr.d", &m[4]);
    (void)LR("lr.d", &m[5]);
    r = SC("sc.d", &m[5], 22);
    CHECK("sc.d newest lr", r, 0);
    CHECK("sc.d newest lr stored", m[5], 22);

    /* Store by this hart to the reserved address between LR and SC: the spec
     * allows the SC to succeed or fail; either way memory must be
     * consistent with the outcome. */
    m[6] = 10;
    (void)LR("lr.d", &m[6]);
    m[6] = 11;
    r = SC("sc.d", &m[6], 12);
    CHECK("sc after own store consistent", m[6], r == 0 ? 12 : 11);

    /* rd == rs2 and rd == rs1 for SC */
    m[7] = 5;
    {
        u64 a = 0x77, p = (u64)&m[7];
        __asm__ volatile("lr.d t0, (%1)\n\tsc.d %0, %0, (%1)" : "+r"(a) : "r"(p) : "t0", "memory");
        CHECK("sc rd==rs2 rd", a, 0);
        CHECK("sc rd==rs2 stored", m[7], 0x77);
        __asm__ volatile("lr.d t0, (%0)\n\tsc.d %0, t0, (%0)" : "+r"(p) : : "t0", "memory");
        CHECK("sc rd==rs1 rd", p, 0);
        CHECK("sc rd==rs1 stored", m[7], 0x77);
    }

    /* aq / rl encodings */
    m[8] = 40;
    v = LR("lr.d.aq", &m[8]);
    r = SC("sc.d.rl", &m[8], 41);
    CHECK("lr.aq value", v, 40);
    CHECK("sc.rl rd", r, 0);
    v = LR("lr.w.aqrl", &m[8]);
    r = SC("sc.w.aqrl", &m[8], 42);
    CHECK("lr.aqrl value", v, 41);
    CHECK("sc.aqrl rd", r, 0);
    CHECK("sc.aqrl stored", m[8], 42);

    /* the canonical retry loop */
    m[9] = 1000;
    for (int i = 0; i < 100; i++) {
        u64 t, f;
        __asm__ volatile("1: lr.d %0, (%2)\n\t"
                         "addi %0, %0, 3\n\t"
                         "sc.d %1, %0, (%2)\n\t"
                         "bnez %1, 1b"
                         : "=&r"(t), "=&r"(f)
                         : "r"(&m[9])
                         : "memory");
    }
    CHECK("lr/sc loop d", m[9], 1300);
    w[20] = 0xfffffff0u;
    for (int i = 0; i < 32; i++) {
        u64 t, f;
        __asm__ volatile("1: lr.w %0, (%2)\n\t"
                         "addiw %0, %0, 1\n\t"
                         "sc.w %1, %0, (%2)\n\t"
                         "bnez %1, 1b"
                         : "=&r"(t), "=&r"(f)
                         : "r"(&w[20])
                         : "memory");
    }
    CHECK("lr/sc loop w", w[20], 0x10);
    CHECK("lr/sc loop w neighbour", w[21], 0);
}

/* ---- AMOs ---- */
static const u64 amo_vals[] = {
    0x0ull,
    0x1ull,
    0x7fffffffull,
    0x80000000ull,
    0xffffffffull,
    0x00000001ffffffffull, /* W: -1 with garbage above */
    0xffffffff80000000ull,
    0x7fffffffffffffffull,
    0x8000000000000000ull,
    0xffffffffffffffffull,
    0x123456789abcdef0ull,
    0xfedcba9876543210ull,
};
#define N_AMO_VALS (sizeof(amo_vals) / sizeof(amo_vals[0]))

#define GUARD 0x5aa5c33cdeadbeefull

/* one AMO.W at word offset `hi` (0 or 1) of mem[0] */
#define AMO_W_CASE(insn, NEWEXPR)                                                              \
    do {                                                                                       \
        for (unsigned i = 0; i < N_AMO_VALS; i++)                                              \
            for (unsigned j = 0; j < N_AMO_VALS; j++)                                          \
                for (int hi = 0; hi < 2; hi++) {                                               \
                    u32 o = (u32)amo_vals[i];                                                  \
                    u64 b = amo_vals[j];                                                       \
                    volatile u32 *w = (volatile u32 *)mem;                                     \
                    mem[0] = GUARD;                                                            \
                    w[hi] = o;                                                                 \
                    u64 r = AMO(insn, &w[hi], b);                                              \
                    u32 bb = (u32)b;                                                           \
                    u32 n = (NEWEXPR);                                                         \
                    long idx = (long)(i * N_AMO_VALS + j) * 2 + hi;                            \
                    CHECKI(insn " old", idx, r, sx32(o));                                      \
                    CHECKI(insn " new", idx, w[hi], n);                                        \
                    CHECKI(insn " other half", idx, w[!hi], (u32)(hi ? GUARD : GUARD >> 32));  \
                }                                                                              \
    } while (0)

#define AMO_D_CASE(insn, NEWEXPR)                                                              \
    do {                                                                                       \
        for (unsigned i = 0; i < N_AMO_VALS; i++)                                              \
            for (unsigned j = 0; j < N_AMO_VALS; j++) {                                        \
                volatile u64 *d = mem;                                                         \
                u64 o = amo_vals[i], b = amo_vals[j];                                          \
                d[1] = o;                                                                      \
                d[0] = d[2] = GUARD;                                                           \
                u64 r = AMO(insn, &d[1], b);                                                   \
                u64 n = (NEWEXPR);                                                             \
                long idx = (long)(i * N_AMO_VALS + j);                                         \
                CHECKI(insn " old", idx, r, o);                                                \
                CHECKI(insn " new", idx, d[1], n);                                             \
                CHECKI(insn " neighbours", idx, d[0] ^ d[2], 0);                               \
                CHECKI(insn " neighbour", idx, d[2], GUARD);                                   \
            }                                                                                  \
    } while (0)

static void test_amo(void)
{
    AMO_W_CASE("amoswap.w", bb);
    AMO_W_CASE("amoadd.w", o + bb);
    AMO_W_CASE("amoxor.w", o ^ bb);
    AMO_W_CASE("amoand.w", o & bb);
    AMO_W_CASE("amoor.w", o | bb);
    AMO_W_CASE("amomin.w", (i32)o < (i32)bb ? o : bb);
    AMO_W_CASE("amomax.w", (i32)o > (i32)bb ? o : bb);
    AMO_W_CASE("amominu.w", o < bb ? o : bb);
    AMO_W_CASE("amomaxu.w", o > bb ? o : bb);
    AMO_D_CASE("amoswap.d", b);
    AMO_D_CASE("amoadd.d", o + b);
    AMO_D_CASE("amoxor.d", o ^ b);
    AMO_D_CASE("amoand.d", o & b);
    AMO_D_CASE("amoor.d", o | b);
    AMO_D_CASE("amomin.d", (i64)o < (i64)b ? o : b);
    AMO_D_CASE("amomax.d", (i64)o > (i64)b ? o : b);
    AMO_D_CASE("amominu.d", o < b ? o : b);
    AMO_D_CASE("amomaxu.d", o > b ? o : b);

    /* hand-written sign / width cases */
    volatile u64 *d = mem;
    d[0] = 0x0000000080000000ull;
    CHECK("amominu.w sext old", AMO("amominu.w", &d[0], 1), 0xffffffff80000000ull);
    CHECK("amominu.w new", d[0], 1);
    d[0] = 0x0000000000000005ull;
    CHECK("amomin.w rs2 hi ignored", AMO("amomin.w", &d[0], 0x00000001ffffffffull), 5);
    CHECK("amomin.w new -1", d[0], 0xffffffffull);
    d[0] = 0xffffffffull;
    CHECK("amoadd.w wrap old", AMO("amoadd.w", &d[0], 1), ~0ull);
    CHECK("amoadd.w wrap no carry out", d[0], 0);
    d[0] = 0x7fffffffffffffffull;
    CHECK("amomax.d", AMO("amomax.d", &d[0], 0x8000000000000000ull), 0x7fffffffffffffffull);
    CHECK("amomax.d new", d[0], 0x7fffffffffffffffull);
    CHECK("amomaxu.d", AMO("amomaxu.d", &d[0], 0x8000000000000000ull), 0x7fffffffffffffffull);
    CHECK("amomaxu.d new", d[0], 0x8000000000000000ull);

    /* rd = x0: memory still updated */
    d[0] = 10;
    __asm__ volatile("amoadd.d x0, %1, (%0)" ::"r"(&d[0]), "r"(5ull) : "memory");
    CHECK("amoadd.d rd=x0", d[0], 15);
    __asm__ volatile("amoswap.w x0, %1, (%0)" ::"r"(&d[0]), "r"(0x99ull) : "memory");
    CHECK("amoswap.w rd=x0", d[0], 0x99);
    /* rd == rs2 */
    {
        u64 a = 0x1234;
        d[0] = 0x5678;
        __asm__ volatile("amoswap.d %0, %0, (%1)" : "+r"(a) : "r"(&d[0]) : "memory");
        CHECK("amoswap rd==rs2 rd", a, 0x5678);
        CHECK("amoswap rd==rs2 mem", d[0], 0x1234);
        u64 p = (u64)&d[0];
        __asm__ volatile("amoadd.d %0, %1, (%0)" : "+r"(p) : "r"(1ull) : "memory");
        CHECK("amoadd rd==rs1 rd", p, 0x1234);
        CHECK("amoadd rd==rs1 mem", d[0], 0x1235);
    }
    /* aq/rl encodings */
    d[0] = 1;
    CHECK("amoadd.d.aq", AMO("amoadd.d.aq", &d[0], 1), 1);
    CHECK("amoadd.d.rl", AMO("amoadd.d.rl", &d[0], 1), 2);
    CHECK("amoadd.d.aqrl", AMO("amoadd.d.aqrl", &d[0], 1), 3);
    CHECK("amoor.w.aqrl", AMO("amoor.w.aqrl", &d[0], 0x100), 4);
    CHECK("amo aqrl mem", d[0], 0x104);
    /* an AMO breaks nothing about a later LR/SC pair */
    (void)LR("lr.d", &d[0]);
    CHECK("sc after amo-free lr", SC("sc.d", &d[0], 77), 0);
    CHECK("sc after amo-free lr mem", d[0], 77);
}

/* ---- exceptions ---- */
#define EXPECT_FAULT(name, stmt, cause_, tval_)                                                \
    do {                                                                                       \
        TRAP_EXPECT();                                                                         \
        stmt;                                                                                  \
        TRAP_END();                                                                            \
        CHECK(name " count", trap.count, 1);                                                   \
        CHECK(name " cause", trap.cause, (cause_));                                            \
        CHECK(name " tval", trap.tval, (u64)(tval_));                                          \
    } while (0)

/* AMO at a misaligned / faulting address: spec cause, or QEMU's quirk */
static void amo_fault(const char *name, int which, u64 addr, u64 spec_cause, u64 qemu_cause)
{
    u64 r = 0x1111;
    volatile u64 *d = mem;
    d[0] = d[1] = 0x0102030405060708ull;
    TRAP_EXPECT();
    switch (which) {
    case 0: AMO_INTO(r, "amoadd.w", addr, 5); break;
    case 1: AMO_INTO(r, "amoadd.d", addr, 5); break;
    case 2: AMO_INTO(r, "amoswap.w", addr, 5); break;
    case 3: AMO_INTO(r, "amomaxu.d", addr, 5); break;
    case 4: AMO_INTO(r, "amoor.w", addr, 5); break;
    }
    TRAP_END();
    u64 cause = trap.cause;
    if (qemu && cause == qemu_cause && qemu_cause != spec_cause) {
        quirk_note(name);
        cause = spec_cause;
    }
    CHECK(name, trap.count, 1);
    CHECK(name, cause, spec_cause);
    CHECK(name, trap.tval, addr);
    CHECK(name, r, 0x1111); /* rd not written */
    CHECK(name, d[0], 0x0102030405060708ull);
    CHECK(name, d[1], 0x0102030405060708ull);
}

static void sc_fault(const char *name, int dbl, u64 addr, u64 spec_cause)
{
    volatile u64 *d = mem;
    d[0] = d[1] = 0x0102030405060708ull;
    u64 r = 0x1111;
    TRAP_EXPECT();
    if (dbl)
        AMO_INTO(r, "sc.d", addr, 5);
    else
        AMO_INTO(r, "sc.w", addr, 5);
    TRAP_END();
    if (qemu && trap.count == 0 && r != 0 && r != 0x1111) {
        quirk_note(name); /* QEMU: SC without reservation does no access */
    } else {
        CHECK(name, trap.count, 1);
        CHECK(name, trap.cause, spec_cause);
        CHECK(name, trap.tval, addr);
        CHECK(name, r, 0x1111);
    }
    CHECK(name, d[0], 0x0102030405060708ull);
    CHECK(name, d[1], 0x0102030405060708ull);
}

static void test_faults(void)
{
    u64 b = (u64)mem;
    amo_fault("amoadd.w misaligned +2", 0, b + 2, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD);
    amo_fault("amoadd.w misaligned +1", 0, b + 1, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD);
    amo_fault("amoswap.w misaligned +7", 2, b + 7, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD);
    amo_fault("amoadd.d misaligned +4", 1, b + 4, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD);
    amo_fault("amomaxu.d misaligned +1", 3, b + 1, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD);
    amo_fault("amoor.w misaligned +6", 4, b + 6, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD);
    amo_fault("amoadd.w hole", 0, HOLE, CAUSE_STORE_ACCESS, CAUSE_LOAD_ACCESS);
    amo_fault("amoadd.d hole", 1, HOLE + 8, CAUSE_STORE_ACCESS, CAUSE_LOAD_ACCESS);
    amo_fault("amoswap.w addr 0", 2, 0, CAUSE_STORE_ACCESS, CAUSE_LOAD_ACCESS);

    /* LR: load exceptions */
    u64 r = 0x1111;
    EXPECT_FAULT("lr.w misaligned", LR_INTO(r, "lr.w", b + 2), CAUSE_MISALIGNED_LOAD, b + 2);
    EXPECT_FAULT("lr.d misaligned", LR_INTO(r, "lr.d", b + 4), CAUSE_MISALIGNED_LOAD, b + 4);
    EXPECT_FAULT("lr.d misaligned 1", LR_INTO(r, "lr.d", b + 1), CAUSE_MISALIGNED_LOAD, b + 1);
    EXPECT_FAULT("lr.w hole", LR_INTO(r, "lr.w", HOLE), CAUSE_LOAD_ACCESS, HOLE);
    EXPECT_FAULT("lr.d hole", LR_INTO(r, "lr.d", HOLE), CAUSE_LOAD_ACCESS, HOLE);
    CHECK("lr fault rd", r, 0x1111);

    /* SC: store/AMO exceptions whether or not a reservation is held */
    sc_fault("sc.w misaligned", 0, b + 2, CAUSE_MISALIGNED_STORE);
    sc_fault("sc.d misaligned", 1, b + 4, CAUSE_MISALIGNED_STORE);
    (void)LR("lr.d", &mem[0]);
    sc_fault("sc.d misaligned with lr", 1, b + 1, CAUSE_MISALIGNED_STORE);
    sc_fault("sc.w hole", 0, HOLE, CAUSE_STORE_ACCESS);

    /* AMO on an MMIO register (CLINT mtimecmp, harmless with MTIE off):
     * performed, or refused with a store/AMO access fault and no effect */
    mmio_write64(CLINT_MTIMECMP, 0x123456789ull);
    r = 0x1111;
    TRAP_EXPECT();
    AMO_INTO(r, "amoswap.d", CLINT_MTIMECMP, 0x987654321ull);
    TRAP_END();
    if (trap.count) {
        CHECK("amo mmio fault cause", trap.cause, CAUSE_STORE_ACCESS);
        CHECK("amo mmio fault tval", trap.tval, CLINT_MTIMECMP);
        CHECK("amo mmio fault rd", r, 0x1111);
        CHECK("amo mmio fault no effect", mmio_read64(CLINT_MTIMECMP), 0x123456789ull);
    } else {
        CHECK("amo mmio old", r, 0x123456789ull);
        CHECK("amo mmio new", mmio_read64(CLINT_MTIMECMP), 0x987654321ull);
    }
    r = 0x1111;
    TRAP_EXPECT();
    LR_INTO(r, "lr.d", CLINT_MTIMECMP);
    TRAP_END();
    if (trap.count) {
        CHECK("lr mmio fault cause", trap.cause, CAUSE_LOAD_ACCESS);
        CHECK("lr mmio fault tval", trap.tval, CLINT_MTIMECMP);
    } else {
        CHECK("lr mmio value", r, mmio_read64(CLINT_MTIMECMP));
        (void)SC("sc.d", &mem[0], 0); /* drop the reservation */
    }
    mmio_write64(CLINT_MTIMECMP, ~0ull);
}

int main(void)
{
    test_name = "rv64a";
    qemu = on_qemu();
    test_lrsc();
    test_amo();
    test_faults();
    return 0;
}
