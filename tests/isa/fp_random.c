/* Randomized F/D test: every arithmetic, FMA, conversion, compare, min/max
 * and fclass instruction runs on pseudo-random operands (biased toward
 * zeros, subnormals, overflow, NaNs, cancellation and ties) in all five
 * rounding modes (dynamic, via frm); the result bits and fflags of each
 * (instruction, mode) are hashed. The expected hashes were recorded on QEMU
 * (the reference); a mismatch names the instruction and mode. */
#include "fp_common.h"

#define ITERS 10000

static u64 rng = 0x243f6a8885a308d3ull;
static u64 rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static u64 rnd_frac(unsigned n)
{
    u64 mask = (1ull << n) - 1, r = rnd();
    switch (rnd() % 8) {
    case 0: return 0;
    case 1: return (1ull << (rnd() % n)) & mask;
    case 2: return (mask >> (rnd() % n)) & mask;
    case 3: return (mask << (rnd() % n)) & mask;
    case 4: return r & mask & ~((1ull << (rnd() % n)) - 1);
    default: return r & mask;
    }
}

static unsigned rnd_exp(unsigned emax, unsigned bias, int near)
{
    unsigned r = (unsigned)(rnd() % 16);
    int e;
    if (near >= 0 && r < 6) e = near + (int)(rnd() % 5) - 2;
    else if (r < 8) e = (int)(rnd() % 3);
    else if (r < 10) e = (int)emax - 1 - (int)(rnd() % 3);
    else if (r < 11) e = (int)emax;
    else if (r < 14) e = (int)bias + (int)(rnd() % 41) - 20;
    else e = (int)(rnd() % emax);
    if (e < 0) e = 0;
    if (e > (int)emax) e = (int)emax;
    return (unsigned)e;
}

static u64 rs(int near) /* random single */
{
    return (rnd() & 0x80000000u) | ((u64)rnd_exp(0xff, 127, near) << 23) | rnd_frac(23);
}
static u64 rdd(int near) /* random double */
{
    return (rnd() & (1ull << 63)) | ((u64)rnd_exp(0x7ff, 1023, near) << 52) | rnd_frac(52);
}
static int es(u64 a) { return (int)((a >> 23) & 0xff); }
static int ed(u64 a) { return (int)((a >> 52) & 0x7ff); }
static u64 rint64(void)
{
    u64 v = rnd();
    switch (rnd() % 4) {
    case 0: return v >> (rnd() % 64);
    case 1: return (1ull << (rnd() % 64)) + (rnd() % 3) - 1;
    case 2: return v & ~((1ull << (rnd() % 64)) - 1);
    default: return v;
    }
}

static u64 hash;
static void mix(u64 r, u64 fl)
{
    hash = (hash ^ r) * 0x100000001b3ull;
    hash = (hash ^ fl) * 0x100000001b3ull;
}

/* operand generators: a, b, c for each kind of instruction */
#define GEN_S2 a = rs(-1), b = rs(rnd() % 2 ? es(a) : -1), c = 0
#define GEN_SMUL a = rs(-1), b = rs(rnd() % 2 ? 254 - es(a) + (int)(rnd() % 3) * 63 - 63 : -1), c = 0
#define GEN_S3 a = rs(-1), b = rs(-1), c = rs(rnd() % 2 ? es(a) + es(b) - 127 : -1)
#define GEN_D2 a = rdd(-1), b = rdd(rnd() % 2 ? ed(a) : -1), c = 0
#define GEN_DMUL a = rdd(-1), b = rdd(rnd() % 2 ? 2046 - ed(a) + (int)(rnd() % 3) * 511 - 511 : -1), c = 0
#define GEN_D3 a = rdd(-1), b = rdd(-1), c = rdd(rnd() % 2 ? ed(a) + ed(b) - 1023 : -1)
#define GEN_SCVT a = rs(127 + (int)(rnd() % 66) - 2), b = c = 0
#define GEN_DCVT a = rdd(1023 + (int)(rnd() % 66) - 2), b = c = 0
#define GEN_I a = rint64(), b = c = 0
#define GEN_DS a = rdd(rnd() % 2 ? 1023 - 126 - (int)(rnd() % 2) * 23 : 1023 + 127), b = c = 0

/* feq, flt, fle (operands swapped) and fclass of one operand pair, packed;
 * the flags of the four are packed into fp_fl */
static u64 cmp_s(u64 a, u64 b)
{
    u64 r = S_TOX("feq.s %0, ft0, ft1", a, b), f = fp_fl;
    r |= S_TOX("flt.s %0, ft0, ft1", a, b) << 1, f |= fp_fl << 5;
    r |= S_TOX("fle.s %0, ft1, ft0", a, b) << 2, f |= fp_fl << 10;
    r |= S_TOX("fclass.s %0, ft0", a, b) << 3, f |= fp_fl << 15;
    fp_fl = f;
    return r;
}
static u64 cmp_d(u64 a, u64 b)
{
    u64 r = D_TOX("feq.d %0, ft0, ft1", a, b), f = fp_fl;
    r |= D_TOX("flt.d %0, ft0, ft1", a, b) << 1, f |= fp_fl << 5;
    r |= D_TOX("fle.d %0, ft1, ft0", a, b) << 2, f |= fp_fl << 10;
    r |= D_TOX("fclass.d %0, ft0", a, b) << 3, f |= fp_fl << 15;
    fp_fl = f;
    return r;
}

/* one (instruction, operand kind, execution macro) per run function; the
 * body is executed for every rounding mode */
#define RUN(fname, GEN, EXEC)                                                                      \
    static void fname(u64 *out)                                                                    \
    {                                                                                              \
        for (u64 m = 0; m < 5; m++) {                                                              \
            set_frm(m);                                                                            \
            hash = 0xcbf29ce484222325ull;                                                          \
            for (int i = 0; i < ITERS; i++) {                                                      \
                u64 a, b, c, r;                                                                    \
                GEN;                                                                               \
                r = EXEC;                                                                          \
                (void)b;                                                                           \
                (void)c;                                                                           \
                mix(r, fp_fl);                                                                     \
            }                                                                                      \
            out[m] = hash;                                                                         \
        }                                                                                          \
        set_frm(0);                                                                                \
    }

RUN(r_fadd_s, GEN_S2, S_OP("fadd.s ft3, ft0, ft1", a, b, c))
RUN(r_fsub_s, GEN_S2, S_OP("fsub.s ft3, ft0, ft1", a, b, c))
RUN(r_fmul_s, GEN_SMUL, S_OP("fmul.s ft3, ft0, ft1", a, b, c))
RUN(r_fdiv_s, GEN_SMUL, S_OP("fdiv.s ft3, ft0, ft1", a, b, c))
RUN(r_fsqrt_s, GEN_S2, S_OP("fsqrt.s ft3, ft0", a, b, c))
RUN(r_fmadd_s, GEN_S3, S_OP("fmadd.s ft3, ft0, ft1, ft2", a, b, c))
RUN(r_fmsub_s, GEN_S3, S_OP("fmsub.s ft3, ft0, ft1, ft2", a, b, c))
RUN(r_fnmsub_s, GEN_S3, S_OP("fnmsub.s ft3, ft0, ft1, ft2", a, b, c))
RUN(r_fnmadd_s, GEN_S3, S_OP("fnmadd.s ft3, ft0, ft1, ft2", a, b, c))
RUN(r_fmin_s, GEN_S2, S_OP("fmin.s ft3, ft0, ft1", a, b, c))
RUN(r_fmax_s, GEN_S2, S_OP("fmax.s ft3, ft0, ft1", a, b, c))
RUN(r_fcmp_s, GEN_S2, cmp_s(a, b))
RUN(r_fcvt_w_s, GEN_SCVT, S_TOX("fcvt.w.s %0, ft0", a, b))
RUN(r_fcvt_wu_s, GEN_SCVT, S_TOX("fcvt.wu.s %0, ft0", a, b))
RUN(r_fcvt_l_s, GEN_SCVT, S_TOX("fcvt.l.s %0, ft0", a, b))
RUN(r_fcvt_lu_s, GEN_SCVT, S_TOX("fcvt.lu.s %0, ft0", a, b))
RUN(r_fcvt_s_w, GEN_I, X_TOS("fcvt.s.w ft3, %2", a))
RUN(r_fcvt_s_wu, GEN_I, X_TOS("fcvt.s.wu ft3, %2", a))
RUN(r_fcvt_s_l, GEN_I, X_TOS("fcvt.s.l ft3, %2", a))
RUN(r_fcvt_s_lu, GEN_I, X_TOS("fcvt.s.lu ft3, %2", a))
RUN(r_fcvt_s_d, GEN_DS, X_TOS("fmv.d.x ft0, %2\n\tfcvt.s.d ft3, ft0", a))
RUN(r_fcvt_d_s, GEN_S2, X_TOD("fmv.w.x ft0, %2\n\tfcvt.d.s ft3, ft0", a))
RUN(r_fadd_d, GEN_D2, D_OP("fadd.d ft3, ft0, ft1", a, b, c))
RUN(r_fsub_d, GEN_D2, D_OP("fsub.d ft3, ft0, ft1", a, b, c))
RUN(r_fmul_d, GEN_DMUL, D_OP("fmul.d ft3, ft0, ft1", a, b, c))
RUN(r_fdiv_d, GEN_DMUL, D_OP("fdiv.d ft3, ft0, ft1", a, b, c))
RUN(r_fsqrt_d, GEN_D2, D_OP("fsqrt.d ft3, ft0", a, b, c))
RUN(r_fmadd_d, GEN_D3, D_OP("fmadd.d ft3, ft0, ft1, ft2", a, b, c))
RUN(r_fmsub_d, GEN_D3, D_OP("fmsub.d ft3, ft0, ft1, ft2", a, b, c))
RUN(r_fnmsub_d, GEN_D3, D_OP("fnmsub.d ft3, ft0, ft1, ft2", a, b, c))
RUN(r_fnmadd_d, GEN_D3, D_OP("fnmadd.d ft3, ft0, ft1, ft2", a, b, c))
RUN(r_fmin_d, GEN_D2, D_OP("fmin.d ft3, ft0, ft1", a, b, c))
RUN(r_fmax_d, GEN_D2, D_OP("fmax.d ft3, ft0, ft1", a, b, c))
RUN(r_fcmp_d, GEN_D2, cmp_d(a, b))
RUN(r_fcvt_w_d, GEN_DCVT, D_TOX("fcvt.w.d %0, ft0", a, b))
RUN(r_fcvt_wu_d, GEN_DCVT, D_TOX("fcvt.wu.d %0, ft0", a, b))
RUN(r_fcvt_l_d, GEN_DCVT, D_TOX("fcvt.l.d %0, ft0", a, b))
RUN(r_fcvt_lu_d, GEN_DCVT, D_TOX("fcvt.lu.d %0, ft0", a, b))
RUN(r_fcvt_d_w, GEN_I, X_TOD("fcvt.d.w ft3, %2", a))
RUN(r_fcvt_d_wu, GEN_I, X_TOD("fcvt.d.wu ft3, %2", a))
RUN(r_fcvt_d_l, GEN_I, X_TOD("fcvt.d.l ft3, %2", a))
RUN(r_fcvt_d_lu, GEN_I, X_TOD("fcvt.d.lu ft3, %2", a))

struct entry {
    const char *name;
    void (*fn)(u64 *);
    u64 want[5];
};

#include "fp_random_hashes.h"

int main(void)
{
    test_name = "fp_random";
    int record = 0;
    for (unsigned i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        u64 got[5];
        tests[i].fn(got);
        if (!tests[i].want[0] && !tests[i].want[1]) record = 1;
        for (int m = 0; m < 5; m++) CHECKI(tests[i].name, m, got[m], tests[i].want[m]);
        if (record) {
            printf_("    {\"%s\", r_%s, {", tests[i].name, tests[i].name);
            for (int m = 0; m < 5; m++) printf_("0x%lxull%s", got[m], m < 4 ? ", " : "}},\n");
        }
    }
    return test_done();
}
