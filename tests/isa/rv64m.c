/*
 * RV64M: MUL, MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU, MULW, DIVW, DIVUW,
 * REMW, REMUW (unprivileged spec chapter 7).
 *
 * Expected values come from a software reference written with shifts, adds
 * and compares only (shift-and-add multiplication, restoring division), so
 * the M instructions are never used to check themselves.  The special cases
 * of the spec's table 7.1 are handled explicitly:
 *   x / 0      = all ones (signed and unsigned),   x % 0 = x
 *   MIN / -1   = MIN (overflow),                    MIN % -1 = 0
 * W forms operate on the low 32 bits and sign-extend the 32-bit result, also
 * for the unsigned DIVUW/REMUW.
 */
#include "common.h"

/* ---- software reference ---- */

/* 128-bit unsigned product by shift-and-add */
static void ref_mulu128(u64 a, u64 b, u64 *hi, u64 *lo)
{
    u64 h = 0, l = 0, ah = 0, al = a; /* (ah:al) = a << i */
    for (int i = 0; i < 64; i++) {
        if ((b >> i) & 1) {
            u64 nl = l + al;
            h = h + ah + (nl < l);
            l = nl;
        }
        ah = (ah << 1) | (al >> 63);
        al <<= 1;
    }
    *hi = h;
    *lo = l;
}

static u64 ref_mul(u64 a, u64 b)
{
    u64 h, l;
    ref_mulu128(a, b, &h, &l);
    return l;
}
static u64 ref_mulhu(u64 a, u64 b)
{
    u64 h, l;
    ref_mulu128(a, b, &h, &l);
    return h;
}
/* signed high part: hi(a*b) as unsigned, corrected for negative operands */
static u64 ref_mulh(u64 a, u64 b)
{
    u64 h = ref_mulhu(a, b);
    if ((i64)a < 0) h -= b;
    if ((i64)b < 0) h -= a;
    return h;
}
static u64 ref_mulhsu(u64 a, u64 b)
{
    u64 h = ref_mulhu(a, b);
    if ((i64)a < 0) h -= b;
    return h;
}

/* restoring division, d != 0 */
static void ref_udivmod(u64 n, u64 d, u64 *q, u64 *r)
{
    u64 qq = 0, rr = 0;
    for (int i = 63; i >= 0; i--) {
        int top = (int)(rr >> 63);
        rr = (rr << 1) | ((n >> i) & 1);
        if (top || rr >= d) {
            rr -= d;
            qq |= 1ull << i;
        }
    }
    *q = qq;
    *r = rr;
}

static u64 neg(u64 v) { return ~v + 1; }

static u64 ref_divu(u64 a, u64 b)
{
    u64 q, r;
    if (b == 0) return ~0ull;
    ref_udivmod(a, b, &q, &r);
    return q;
}
static u64 ref_remu(u64 a, u64 b)
{
    u64 q, r;
    if (b == 0) return a;
    ref_udivmod(a, b, &q, &r);
    return r;
}
static u64 ref_div(u64 a, u64 b)
{
    if (b == 0) return ~0ull;
    if (a == 0x8000000000000000ull && b == ~0ull) return a;
    int na = (i64)a < 0, nb = (i64)b < 0;
    u64 q, r;
    ref_udivmod(na ? neg(a) : a, nb ? neg(b) : b, &q, &r);
    return na != nb ? neg(q) : q; /* truncation toward zero */
}
static u64 ref_rem(u64 a, u64 b)
{
    if (b == 0) return a;
    if (a == 0x8000000000000000ull && b == ~0ull) return 0;
    int na = (i64)a < 0, nb = (i64)b < 0;
    u64 q, r;
    ref_udivmod(na ? neg(a) : a, nb ? neg(b) : b, &q, &r);
    return na ? neg(r) : r; /* sign of the dividend */
}

static u64 sx32(u64 v) { return (v & 0x80000000ull) ? (v | 0xffffffff00000000ull) : (v & 0xffffffffull); }
static u64 zx32(u64 v) { return v & 0xffffffffull; }

static u64 ref_mulw(u64 a, u64 b) { return sx32(ref_mul(a, b)); }
static u64 ref_divw(u64 a, u64 b)
{
    u64 sa = sx32(a), sb = sx32(b);
    if (zx32(b) == 0) return ~0ull;
    if (sa == 0xffffffff80000000ull && sb == ~0ull) return sa;
    return sx32(ref_div(sa, sb));
}
static u64 ref_remw(u64 a, u64 b)
{
    u64 sa = sx32(a), sb = sx32(b);
    if (zx32(b) == 0) return sa;
    if (sa == 0xffffffff80000000ull && sb == ~0ull) return 0;
    return sx32(ref_rem(sa, sb));
}
static u64 ref_divuw(u64 a, u64 b)
{
    if (zx32(b) == 0) return ~0ull;
    return sx32(ref_divu(zx32(a), zx32(b)));
}
static u64 ref_remuw(u64 a, u64 b)
{
    if (zx32(b) == 0) return sx32(a);
    return sx32(ref_remu(zx32(a), zx32(b)));
}

/* ---- instruction wrappers ---- */
#define OP_RR(insn, a, b)                                                                      \
    ({                                                                                         \
        u64 _r;                                                                                \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(_r) : "r"((u64)(a)), "r"((u64)(b)));        \
        _r;                                                                                    \
    })

static long vec_no;

static void check_all(u64 a, u64 b)
{
    long i = vec_no++;
    CHECKI("mul", i, OP_RR("mul", a, b), ref_mul(a, b));
    CHECKI("mulh", i, OP_RR("mulh", a, b), ref_mulh(a, b));
    CHECKI("mulhsu", i, OP_RR("mulhsu", a, b), ref_mulhsu(a, b));
    CHECKI("mulhu", i, OP_RR("mulhu", a, b), ref_mulhu(a, b));
    CHECKI("div", i, OP_RR("div", a, b), ref_div(a, b));
    CHECKI("divu", i, OP_RR("divu", a, b), ref_divu(a, b));
    CHECKI("rem", i, OP_RR("rem", a, b), ref_rem(a, b));
    CHECKI("remu", i, OP_RR("remu", a, b), ref_remu(a, b));
    CHECKI("mulw", i, OP_RR("mulw", a, b), ref_mulw(a, b));
    CHECKI("divw", i, OP_RR("divw", a, b), ref_divw(a, b));
    CHECKI("divuw", i, OP_RR("divuw", a, b), ref_divuw(a, b));
    CHECKI("remw", i, OP_RR("remw", a, b), ref_remw(a, b));
    CHECKI("remuw", i, OP_RR("remuw", a, b), ref_remuw(a, b));
}

static const u64 edge[] = {
    0x0ull,
    0x1ull,
    0x2ull,
    0x3ull,
    0x7ull,
    0xffffffffffffffffull, /* -1 */
    0xfffffffffffffffeull, /* -2 */
    0xfffffffffffffffdull, /* -3 */
    0x7fffffffffffffffull,
    0x8000000000000000ull,
    0x8000000000000001ull,
    0x7fffffffull,
    0x80000000ull,
    0x80000001ull,
    0xffffffffull,
    0x100000000ull,
    0x100000001ull,
    0xffffffff80000000ull,
    0xffffffff7fffffffull,
    0x00000001ffffffffull,
    0xffffffff00000000ull, /* low word 0: W division by zero */
    0x123456789abcdef0ull,
    0xfedcba9876543210ull,
};
#define N_EDGE (sizeof(edge) / sizeof(edge[0]))

static u64 rng = 0x853c49e6748fea9bull;
static u64 next_rand(void)
{
    /* xorshift64*: only shifts and xors in the state update */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng;
}

/* random value with a random magnitude, so small divisors appear too */
static u64 rand_val(void)
{
    u64 v = next_rand();
    unsigned sh = (unsigned)(next_rand() & 63);
    switch (next_rand() & 3) {
    case 0: return v;
    case 1: return v >> sh;
    case 2: return (u64)((i64)v >> sh);
    default: return sx32(v >> sh);
    }
}

static void test_special(void)
{
    /* spec table 7.1: division by zero */
    CHECK("divu /0", OP_RR("divu", 12345, 0), ~0ull);
    CHECK("remu /0", OP_RR("remu", 12345, 0), 12345);
    CHECK("div /0", OP_RR("div", (u64)-7, 0), ~0ull);
    CHECK("rem /0", OP_RR("rem", (u64)-7, 0), (u64)-7);
    CHECK("divw /0", OP_RR("divw", 0x0000000100000007ull, 0xffffffff00000000ull), ~0ull);
    CHECK("remw /0", OP_RR("remw", 0x00000001fffffff9ull, 0x5500000000ull), (u64)-7);
    CHECK("divuw /0", OP_RR("divuw", 7, 0), ~0ull);
    CHECK("remuw /0", OP_RR("remuw", 0x80000000ull, 0), 0xffffffff80000000ull);
    CHECK("remuw /0 hi", OP_RR("remuw", 0x1234567880000001ull, 0), 0xffffffff80000001ull);
    /* overflow */
    CHECK("div ovf", OP_RR("div", 0x8000000000000000ull, ~0ull), 0x8000000000000000ull);
    CHECK("rem ovf", OP_RR("rem", 0x8000000000000000ull, ~0ull), 0);
    CHECK("divw ovf", OP_RR("divw", 0x80000000ull, ~0ull), 0xffffffff80000000ull);
    CHECK("remw ovf", OP_RR("remw", 0x80000000ull, 0xffffffffull), 0);
    /* rounding toward zero, remainder sign = dividend sign */
    CHECK("div -7/2", OP_RR("div", (u64)-7, 2), (u64)-3);
    CHECK("rem -7/2", OP_RR("rem", (u64)-7, 2), (u64)-1);
    CHECK("div 7/-2", OP_RR("div", 7, (u64)-2), (u64)-3);
    CHECK("rem 7/-2", OP_RR("rem", 7, (u64)-2), 1);
    CHECK("divu big", OP_RR("divu", ~0ull, 2), 0x7fffffffffffffffull);
    /* W results are sign-extended, upper input bits ignored */
    CHECK("mulw sext", OP_RR("mulw", 0x10000, 0x8000), 0xffffffff80000000ull);
    CHECK("mulw hi ignored", OP_RR("mulw", 0xffffffff00000003ull, 0x1234567800000005ull), 15);
    CHECK("divuw sext", OP_RR("divuw", 0xffffffffull, 1), ~0ull);
    CHECK("divuw unsigned", OP_RR("divuw", 0x80000000ull, 2), 0x40000000);
    CHECK("remuw sext", OP_RR("remuw", 0xfffffffeull, 0xffffffffull), 0xfffffffffffffffeull);
    CHECK("divw", OP_RR("divw", 0xfffffff9ull, 2), (u64)-3);
    CHECK("remw", OP_RR("remw", 0xfffffff9ull, 2), (u64)-1);
    /* high products */
    CHECK("mulhu max", OP_RR("mulhu", ~0ull, ~0ull), 0xfffffffffffffffeull);
    CHECK("mulh -1*-1", OP_RR("mulh", ~0ull, ~0ull), 0);
    CHECK("mulh min*min", OP_RR("mulh", 0x8000000000000000ull, 0x8000000000000000ull),
          0x4000000000000000ull);
    CHECK("mulhsu -1*max", OP_RR("mulhsu", ~0ull, ~0ull), ~0ull);
    CHECK("mulhsu 2*max", OP_RR("mulhsu", 2, ~0ull), 1);
    CHECK("mulh -1*1", OP_RR("mulh", ~0ull, 1), ~0ull);
    CHECK("mul wrap", OP_RR("mul", 0x100000000ull, 0x100000000ull), 0);
    /* register aliasing: rd == rs1 == rs2 */
    u64 v = 0xffffffffull;
    __asm__ volatile("mul %0, %0, %0" : "+r"(v));
    CHECK("mul self", v, 0xfffffffe00000001ull);
    v = 0xffffffffull;
    __asm__ volatile("mulhu %0, %0, %0" : "+r"(v));
    CHECK("mulhu self", v, 0);
    v = 0x8000000000000000ull;
    __asm__ volatile("div %0, %0, %0" : "+r"(v));
    CHECK("div self", v, 1);
    v = 0;
    __asm__ volatile("divu %0, %0, %0" : "+r"(v));
    CHECK("divu self 0", v, ~0ull);
    /* x0 destination */
    __asm__ volatile("mul x0, %1, %1\n\tmv %0, x0" : "=r"(v) : "r"(12345ull));
    CHECK("mul x0", v, 0);
    /* reference self-check (the reference must be right for the rest to mean
     * anything): a few products known by hand */
    CHECK("ref mulhu", ref_mulhu(0x123456789abcdef0ull, 0x0fedcba987654321ull),
          0x0121fa00ad77d742ull);
    CHECK("ref mul", ref_mul(0x123456789abcdef0ull, 0x0fedcba987654321ull), 0x2236d88fe5618cf0ull);
    CHECK("ref div", ref_div((u64)-1000000007, 13), (u64)-76923077);
    CHECK("ref rem", ref_rem((u64)-1000000007, 13), (u64)-6);
}

int main(void)
{
    test_name = "rv64m";
    test_special();
    vec_no = 0;
    for (unsigned i = 0; i < N_EDGE; i++)
        for (unsigned j = 0; j < N_EDGE; j++) check_all(edge[i], edge[j]);
    for (int i = 0; i < 400; i++) {
        u64 a = rand_val(), b = rand_val();
        check_all(a, b);
        check_all(a, b & 0xff); /* small divisors */
    }
    return 0;
}
