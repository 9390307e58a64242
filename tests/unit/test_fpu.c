/* F/D floating-point library (src/cpu/fpu.c): hand-picked RISC-V corner
 * cases, then a randomized differential test of both the public entry points
 * (host fast paths + software) and the pure software path (fpu_soft) against
 * the host FPU for RNE/RTZ/RDN/RUP, and against an exact tie-detecting
 * reference (__float128) for RMM.
 *
 * The host (x86-64 SSE, or any IEEE host) detects tininess after rounding
 * like RISC-V (checked by hand below). Known host/RISC-V differences that
 * are corrected for: NaN results (RISC-V: canonical NaN), FMA inf*0+qNaN
 * (RISC-V raises NV), float->integer saturation (own reference).
 * Usage: test_fpu [iterations-per-op [seed]] */
#include "check.h"
#include "cpu/fpu.h"
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct check_ctx c;
static const char *const rm_name[5] = {"rne", "rtz", "rdn", "rup", "rmm"};
static const int host_rm[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};

enum { NX = FPU_NX, UF = FPU_UF, OF = FPU_OF, DZ = FPU_DZ, NV = FPU_NV };
enum { RNE = FPU_RNE, RTZ = FPU_RTZ, RDN = FPU_RDN, RUP = FPU_RUP, RMM = FPU_RMM };

static double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}
static uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}
static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Randomised vectors count as one check per operation and rounding mode:
 * while `tally` is on, each vector is recorded under its (name, rm) key and
 * tally_report turns every key into one check. */
struct tally_key {
    char name[32];
    int rm;
    unsigned long n, bad;
};
static struct tally_key tally_tab[1024];
static int tally;

static struct tally_key *tally_find(const char *name, int rm)
{
    unsigned h = (unsigned)rm * 31u;
    for (const char *p = name; *p; p++)
        h = h * 131u + (unsigned char)*p;
    for (unsigned i = 0; i < 1024; i++) {
        struct tally_key *k = &tally_tab[(h + i) & 1023];
        if (!k->name[0]) {
            snprintf(k->name, sizeof(k->name), "%s", name);
            k->rm = rm;
            return k;
        }
        if (k->rm == rm && !strcmp(k->name, name)) return k;
    }
    return NULL;
}

static void tally_report(void)
{
    for (unsigned i = 0; i < 1024; i++) {
        struct tally_key *k = &tally_tab[i];
        if (!k->name[0]) continue;
        CHECK(&c, k->bad == 0, "%s %s: %lu of %lu random vectors wrong", k->name,
              k->rm >= 0 ? rm_name[k->rm] : "-", k->bad, k->n);
    }
}

/* One check of a (result, flags) pair; failures are printed (up to 60). */
static void expect_ctx(const char *what, int rm, uint64_t a, uint64_t b, uint64_t cc, uint64_t got,
                       uint32_t gfl, uint64_t want, uint32_t wfl)
{
    int good = got == want && gfl == wfl;
    struct tally_key *k = tally ? tally_find(what, rm) : NULL;
    if (k) {
        k->n++;
        k->bad += !good;
    } else if (good) {
        c.passed++;
    } else {
        c.failed++;
    }
    if (good) return;
    static unsigned shown;
    if (++shown <= 60)
        fprintf(stderr,
                "FAIL %s %s a=%016" PRIx64 " b=%016" PRIx64 " c=%016" PRIx64 ": got %016" PRIx64
                "/%02x want %016" PRIx64 "/%02x\n",
                what, rm >= 0 ? rm_name[rm] : "-", a, b, cc, got, gfl, want, wfl);
}

/* ======================================================================== */
/* Hand-picked cases                                                         */

#define F32_MAX    0x7f7fffffu
#define F32_INF    0x7f800000u
#define F32_QNAN   0x7fc00000u
#define F32_QNAN_P 0x7fc12345u /* quiet, with payload */
#define F32_SNAN   0x7f800001u
#define F32_MINN   0x00800000u
#define N32        0x80000000u
#define F64_MAX    0x7fefffffffffffffull
#define F64_INF    0x7ff0000000000000ull
#define F64_QNAN   0x7ff8000000000000ull
#define F64_QNAN_P 0x7ff8000000012345ull
#define F64_SNAN   0x7ff0000000000001ull
#define F64_MINN   0x0010000000000000ull
#define N64        0x8000000000000000ull
#define CN32       FPU_F32_CANON_NAN
#define CN64       FPU_F64_CANON_NAN

typedef uint32_t (*f32_bin)(uint32_t, uint32_t, int, uint32_t *);
typedef uint64_t (*f64_bin)(uint64_t, uint64_t, int, uint32_t *);

static void t32(const char *n, f32_bin f, int op, uint32_t a, uint32_t b, int rm, uint32_t want,
                uint32_t wfl)
{
    uint32_t fl = 0, r = f(a, b, rm, &fl);
    expect_ctx(n, rm, a, b, 0, r, fl, want, wfl);
    fl = 0;
    r = (uint32_t)fpu_soft(32, op, a, b, 0, rm, &fl);
    expect_ctx(n, rm, a, b, 0, r, fl, want, wfl);
}
static void t64(const char *n, f64_bin f, int op, uint64_t a, uint64_t b, int rm, uint64_t want,
                uint32_t wfl)
{
    uint32_t fl = 0;
    uint64_t r = f(a, b, rm, &fl);
    expect_ctx(n, rm, a, b, 0, r, fl, want, wfl);
    fl = 0;
    r = fpu_soft(64, op, a, b, 0, rm, &fl);
    expect_ctx(n, rm, a, b, 0, r, fl, want, wfl);
}
static void fma32(int np, int na, uint32_t a, uint32_t b, uint32_t cc, int rm, uint32_t want,
                  uint32_t wfl)
{
    static const int ops[2][2] = {{FPU_OP_FMADD, FPU_OP_FMSUB}, {FPU_OP_FNMSUB, FPU_OP_FNMADD}};
    uint32_t fl = 0, r = f32_fma(a, b, cc, np, na, rm, &fl);
    expect_ctx("fma.s", rm, a, b, cc, r, fl, want, wfl);
    fl = 0;
    r = (uint32_t)fpu_soft(32, ops[np][na], a, b, cc, rm, &fl);
    expect_ctx("fma.s/soft", rm, a, b, cc, r, fl, want, wfl);
}
static void fma64(int np, int na, uint64_t a, uint64_t b, uint64_t cc, int rm, uint64_t want,
                  uint32_t wfl)
{
    uint32_t fl = 0;
    uint64_t r = f64_fma(a, b, cc, np, na, rm, &fl);
    expect_ctx("fma.d", rm, a, b, cc, r, fl, want, wfl);
}

#define ADD32(a, b, rm, w, f) t32("fadd.s", f32_add, FPU_OP_ADD, a, b, rm, w, f)
#define SUB32(a, b, rm, w, f) t32("fsub.s", f32_sub, FPU_OP_SUB, a, b, rm, w, f)
#define MUL32(a, b, rm, w, f) t32("fmul.s", f32_mul, FPU_OP_MUL, a, b, rm, w, f)
#define DIV32(a, b, rm, w, f) t32("fdiv.s", f32_div, FPU_OP_DIV, a, b, rm, w, f)
#define ADD64(a, b, rm, w, f) t64("fadd.d", f64_add, FPU_OP_ADD, a, b, rm, w, f)
#define SUB64(a, b, rm, w, f) t64("fsub.d", f64_sub, FPU_OP_SUB, a, b, rm, w, f)
#define MUL64(a, b, rm, w, f) t64("fmul.d", f64_mul, FPU_OP_MUL, a, b, rm, w, f)
#define DIV64(a, b, rm, w, f) t64("fdiv.d", f64_div, FPU_OP_DIV, a, b, rm, w, f)

static void sqrt32(uint32_t a, int rm, uint32_t want, uint32_t wfl)
{
    uint32_t fl = 0, r = f32_sqrt(a, rm, &fl);
    expect_ctx("fsqrt.s", rm, a, 0, 0, r, fl, want, wfl);
    fl = 0;
    r = (uint32_t)fpu_soft(32, FPU_OP_SQRT, a, 0, 0, rm, &fl);
    expect_ctx("fsqrt.s/soft", rm, a, 0, 0, r, fl, want, wfl);
}
static void sqrt64(uint64_t a, int rm, uint64_t want, uint32_t wfl)
{
    uint32_t fl = 0;
    uint64_t r = f64_sqrt(a, rm, &fl);
    expect_ctx("fsqrt.d", rm, a, 0, 0, r, fl, want, wfl);
    fl = 0;
    r = fpu_soft(64, FPU_OP_SQRT, a, 0, 0, rm, &fl);
    expect_ctx("fsqrt.d/soft", rm, a, 0, 0, r, fl, want, wfl);
}

static void hand_arith(void)
{
    const uint32_t one = 0x3f800000u, two = 0x40000000u;
    const uint64_t d1 = 0x3ff0000000000000ull;
    /* signed zeros of exact sums */
    ADD32(one, one | N32, RNE, 0, 0);
    ADD32(one, one | N32, RDN, N32, 0);
    ADD32(one, one | N32, RUP, 0, 0);
    ADD32(0, N32, RNE, 0, 0);
    ADD32(0, N32, RDN, N32, 0);
    ADD32(N32, N32, RNE, N32, 0);
    ADD32(N32, N32, RUP, N32, 0);
    SUB32(0, 0, RNE, 0, 0);
    SUB32(0, 0, RDN, N32, 0);
    SUB32(N32, 0, RNE, N32, 0);
    ADD32(0x00000001u, 0, RNE, 0x00000001u, 0); /* subnormal + 0: exact, no UF */
    ADD64(d1, d1 | N64, RNE, 0, 0);
    ADD64(d1, d1 | N64, RDN, N64, 0);
    ADD64(0, N64, RDN, N64, 0);
    ADD64(N64, N64, RTZ, N64, 0);
    SUB64(N64, 0, RUP, N64, 0);
    ADD64(1, N64 | 1, RDN, N64, 0);
    ADD64(1, 1, RNE, 2, 0); /* subnormal sum: exact */
    /* overflow per rounding mode */
    ADD32(F32_MAX, F32_MAX, RNE, F32_INF, OF | NX);
    ADD32(F32_MAX, F32_MAX, RTZ, F32_MAX, OF | NX);
    ADD32(F32_MAX, F32_MAX, RDN, F32_MAX, OF | NX);
    ADD32(F32_MAX, F32_MAX, RUP, F32_INF, OF | NX);
    ADD32(F32_MAX, F32_MAX, RMM, F32_INF, OF | NX);
    ADD32(F32_MAX | N32, F32_MAX | N32, RDN, F32_INF | N32, OF | NX);
    ADD32(F32_MAX | N32, F32_MAX | N32, RUP, F32_MAX | N32, OF | NX);
    ADD32(F32_MAX | N32, F32_MAX | N32, RTZ, F32_MAX | N32, OF | NX);
    MUL64(F64_MAX, 0x4000000000000000ull, RNE, F64_INF, OF | NX);
    MUL64(F64_MAX, 0x4000000000000000ull, RTZ, F64_MAX, OF | NX);
    MUL64(F64_MAX, 0xc000000000000000ull, RUP, F64_MAX | N64, OF | NX);
    MUL64(F64_MAX, 0xc000000000000000ull, RDN, F64_INF | N64, OF | NX);
    MUL64(F64_MAX, 0xc000000000000000ull, RMM, F64_INF | N64, OF | NX);
    /* max + half an ulp: RNE/RMM overflow, RTZ/RDN do not round up */
    ADD32(F32_MAX, 0x73000000u, RNE, F32_INF, OF | NX);
    ADD32(F32_MAX, 0x73000000u, RMM, F32_INF, OF | NX);
    ADD32(F32_MAX, 0x73000000u, RTZ, F32_MAX, NX);
    ADD32(F32_MAX, 0x72800000u, RNE, F32_MAX, NX); /* quarter ulp */
    ADD32(F32_MAX, 0x72800000u, RUP, F32_INF, OF | NX);
    ADD64(F64_MAX, 0x7c90000000000000ull, RNE, F64_INF, OF | NX);
    ADD64(F64_MAX, 0x7c90000000000000ull, RDN, F64_MAX, NX);
    ADD64(F64_MAX, 0x7c80000000000000ull, RUP, F64_INF, OF | NX);
    /* ties: RNE to even, RMM away */
    ADD32(one, 0x33800000u, RNE, one, NX);
    ADD32(one, 0x33800000u, RMM, 0x3f800001u, NX);
    ADD32(one | N32, 0x33800000u | N32, RMM, 0xbf800001u, NX);
    ADD32(0x3f800001u, 0x33800000u, RNE, 0x3f800002u, NX);
    ADD32(0x3f800001u, 0x33800000u, RMM, 0x3f800002u, NX);
    ADD32(one, 0x33800001u, RNE, 0x3f800001u, NX);
    ADD32(one, 0x337fffffu, RMM, one, NX);
    ADD64(d1, 0x3ca0000000000000ull, RNE, d1, NX);
    ADD64(d1, 0x3ca0000000000000ull, RMM, d1 + 1, NX);
    ADD64(d1 | N64, 0x3ca0000000000000ull | N64, RMM, (d1 + 1) | N64, NX);
    ADD64(d1, 0x3ca0000000000000ull, RUP, d1 + 1, NX);
    ADD64(d1, 0x3ca0000000000000ull, RTZ, d1, NX);
    ADD64(d1 | N64, 0x3ca0000000000000ull | N64, RDN, (d1 + 1) | N64, NX);
    /* 3 * (1 + 2^-52 + 2^-53)...: product ties */
    MUL64(0x3ff8000000000000ull, 0x3ff0000000000001ull, RNE, 0x3ff8000000000002ull, NX);
    MUL64(0x3ff8000000000000ull, 0x3ff0000000000001ull, RMM, 0x3ff8000000000002ull, NX);
    MUL64(0x3ff8000000000000ull, 0x3ff0000000000003ull, RNE, 0x3ff8000000000004ull, NX);
    MUL64(0x3ff8000000000000ull, 0x3ff0000000000003ull, RMM, 0x3ff8000000000005ull, NX);
    MUL64(0xbff8000000000000ull, 0x3ff0000000000003ull, RMM, 0xbff8000000000005ull, NX);
    MUL32(0x3fc00000u, 0x3f800003u, RNE, 0x3fc00004u, NX);
    MUL32(0x3fc00000u, 0x3f800003u, RMM, 0x3fc00005u, NX);
    /* subnormal results, tininess after rounding */
    MUL32(0x00000001u, 0x3f000000u, RNE, 0, UF | NX); /* min subnormal / 2: tie to 0 */
    MUL32(0x00000001u, 0x3f000000u, RMM, 1, UF | NX);
    MUL32(0x00000001u, 0x3f000000u, RUP, 1, UF | NX);
    MUL32(0x00000001u, 0x3f000000u, RTZ, 0, UF | NX);
    MUL32(0x80000001u, 0x3f000000u, RDN, 0x80000001u, UF | NX);
    MUL32(0x80000001u, 0x3f000000u, RUP, N32, UF | NX);
    MUL32(0x00000003u, 0x3f000000u, RNE, 2, UF | NX);
    MUL32(0x00000002u, 0x3f000000u, RNE, 1, 0); /* exact subnormal: no UF */
    MUL32(F32_MINN, 0x3f000000u, RNE, 0x00400000u, 0);
    /* (1 - 2^-24) * 2^-126: representable with unbounded exponent -> tiny */
    MUL32(0x3f7fffffu, F32_MINN, RNE, F32_MINN, UF | NX);
    MUL32(0x3f7fffffu, F32_MINN, RTZ, 0x007fffffu, UF | NX);
    /* (1 - 2^-23)(1 + 2^-23) 2^-126 = (1 - 2^-46) 2^-126: rounds to 2^-126
     * with unbounded exponent -> not tiny after rounding (no UF) in RNE/RUP/RMM */
    MUL32(0x3f7ffffeu, 0x00800001u, RNE, F32_MINN, NX);
    MUL32(0x3f7ffffeu, 0x00800001u, RMM, F32_MINN, NX);
    MUL32(0x3f7ffffeu, 0x00800001u, RUP, F32_MINN, NX);
    MUL32(0x3f7ffffeu, 0x00800001u, RTZ, 0x007fffffu, UF | NX);
    MUL32(0xbf7ffffeu, 0x00800001u, RDN, F32_MINN | N32, NX);
    MUL32(0xbf7ffffeu, 0x00800001u, RUP, 0x807fffffu, UF | NX);
    MUL64(0x1ffffffffffffffeull, 0x2000000000000001ull, RNE, F64_MINN, NX);
    MUL64(0x1ffffffffffffffeull, 0x2000000000000001ull, RTZ, 0x000fffffffffffffull, UF | NX);
    MUL64(0x3fefffffffffffffull, F64_MINN, RNE, F64_MINN, UF | NX);
    MUL64(1, 0x3fe0000000000000ull, RNE, 0, UF | NX);
    MUL64(1, 0x3fe0000000000000ull, RMM, 1, UF | NX);
    MUL64(3, 0x3fe0000000000000ull, RNE, 2, UF | NX);
    MUL64(F64_MINN, 0x3ff8000000000000ull, RNE, 0x0018000000000000ull, 0);
    MUL64(F64_MINN, F64_MINN, RUP, 1, UF | NX);
    MUL64(F64_MINN | N64, F64_MINN, RUP, N64, UF | NX);
    DIV64(1, 0x4000000000000000ull, RNE, 0, UF | NX);
    DIV64(1, 0x4000000000000000ull, RMM, 1, UF | NX);
    DIV32(1, two, RNE, 0, UF | NX);
    /* division/special cases */
    DIV32(one, 0, RNE, F32_INF, DZ);
    DIV32(one | N32, 0, RNE, F32_INF | N32, DZ);
    DIV32(one, N32, RNE, F32_INF | N32, DZ);
    DIV32(0, 0, RNE, CN32, NV);
    DIV32(F32_INF, F32_INF, RNE, CN32, NV);
    DIV32(F32_INF, 0, RNE, F32_INF, 0);
    DIV32(0, F32_INF | N32, RNE, N32, 0);
    DIV32(one, 0x40400000u, RNE, 0x3eaaaaabu, NX);
    DIV32(one, 0x40400000u, RTZ, 0x3eaaaaaau, NX);
    DIV64(d1, 0, RNE, F64_INF, DZ);
    DIV64(0, 0, RNE, CN64, NV);
    DIV64(F64_INF, F64_INF | N64, RNE, CN64, NV);
    DIV64(d1, 0x4008000000000000ull, RNE, 0x3fd5555555555555ull, NX);
    DIV64(d1, 0x4008000000000000ull, RUP, 0x3fd5555555555556ull, NX);
    DIV64(F64_MAX, 0x3fe0000000000000ull, RNE, F64_INF, OF | NX);
    DIV64(F64_MAX, 0x3fe0000000000000ull, RTZ, F64_MAX, OF | NX);
    /* NaNs */
    ADD32(F32_QNAN_P, one, RNE, CN32, 0);
    ADD32(one, F32_SNAN, RNE, CN32, NV);
    ADD32(F32_INF, F32_INF | N32, RNE, CN32, NV);
    SUB32(F32_INF, F32_INF, RNE, CN32, NV);
    ADD32(F32_INF, F32_INF, RNE, F32_INF, 0);
    ADD32(F32_INF | N32, F32_MAX, RNE, F32_INF | N32, 0);
    MUL32(F32_INF, 0, RNE, CN32, NV);
    MUL32(N32, F32_INF, RNE, CN32, NV);
    MUL32(F32_INF, N32 | one, RNE, F32_INF | N32, 0);
    MUL32(F32_QNAN, 0, RNE, CN32, 0);
    MUL32(F32_SNAN | N32, F32_QNAN, RNE, CN32, NV);
    ADD64(F64_QNAN_P, d1, RNE, CN64, 0);
    ADD64(F64_SNAN, F64_QNAN, RNE, CN64, NV);
    SUB64(F64_INF, F64_INF, RNE, CN64, NV);
    MUL64(F64_INF, 0, RNE, CN64, NV);
    MUL64(F64_INF, F64_INF | N64, RNE, F64_INF | N64, 0);
    DIV64(F64_SNAN, d1, RNE, CN64, NV);
    DIV64(F64_QNAN, 0, RNE, CN64, 0);
    /* sqrt */
    sqrt32(N32, RNE, N32, 0);
    sqrt32(0, RNE, 0, 0);
    sqrt32(one | N32, RNE, CN32, NV);
    sqrt32(F32_INF | N32, RNE, CN32, NV);
    sqrt32(0x80000001u, RNE, CN32, NV);
    sqrt32(F32_INF, RNE, F32_INF, 0);
    sqrt32(F32_QNAN_P, RNE, CN32, 0);
    sqrt32(F32_SNAN, RNE, CN32, NV);
    sqrt32(0x40800000u, RNE, two, 0);
    sqrt32(two, RNE, 0x3fb504f3u, NX);
    sqrt32(two, RUP, 0x3fb504f4u, NX);
    sqrt32(1, RNE, 0x1a3504f3u, NX); /* sqrt(2^-149) */
    sqrt64(N64, RDN, N64, 0);
    sqrt64(d1 | N64, RNE, CN64, NV);
    sqrt64(F64_SNAN, RNE, CN64, NV);
    sqrt64(0x4000000000000000ull, RNE, 0x3ff6a09e667f3bcdull, NX);
    sqrt64(0x4000000000000000ull, RDN, 0x3ff6a09e667f3bccull, NX);
    sqrt64(0x4010000000000000ull, RNE, 0x4000000000000000ull, 0);
    sqrt64(1, RNE, 0x1e60000000000000ull, 0); /* sqrt(2^-1074) = 2^-537 */
    sqrt64(F64_MAX, RNE, 0x5fefffffffffffffull, NX);
    sqrt64(F64_INF, RNE, F64_INF, 0);

    /* fused multiply-add */
    fma32(0, 0, F32_INF, 0, F32_QNAN, RNE, CN32, NV); /* inf*0 + qNaN: NV */
    fma32(0, 0, 0, F32_INF | N32, F32_QNAN_P, RNE, CN32, NV);
    fma32(0, 0, F32_INF, 0, one, RNE, CN32, NV);
    fma32(0, 0, F32_QNAN, 0, F32_INF, RNE, CN32, 0); /* NaN product, not inf*0 */
    fma32(0, 0, F32_SNAN, one, one, RNE, CN32, NV);
    fma32(0, 0, one, one, F32_SNAN, RNE, CN32, NV);
    fma32(0, 0, F32_INF, one, F32_INF | N32, RNE, CN32, NV);
    fma32(0, 1, F32_INF, one, F32_INF, RNE, CN32, NV);
    fma32(1, 0, F32_INF, one, F32_INF, RNE, CN32, NV);
    fma32(1, 1, F32_INF, one, F32_INF, RNE, F32_INF | N32, 0);
    fma32(0, 0, F32_MAX, two, F32_INF | N32, RNE, F32_INF | N32, 0);
    fma32(0, 0, one, one, one | N32, RNE, 0, 0);
    fma32(0, 0, one, one, one | N32, RDN, N32, 0);
    fma32(0, 0, 0, one, N32, RNE, 0, 0);
    fma32(0, 0, 0, one, N32, RDN, N32, 0);
    fma32(0, 0, N32, one, N32, RNE, N32, 0);
    fma32(1, 1, 0, one, 0, RNE, N32, 0); /* -(0*1) - 0 = -0 */
    fma32(1, 0, 0, one, 0, RNE, 0, 0);   /* -(0*1) + 0 = +0 */
    fma32(0, 0, 0, one, 0x00000001u, RNE, 1, 0);
    fma32(0, 1, 0, one, 0x00000001u, RNE, 0x80000001u, 0);
    /* single rounding: (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 */
    fma32(0, 1, 0x3f800001u, 0x3f7ffffeu, one, RNE, 0xa8800000u, 0);
    fma32(0, 0, 0x3f800001u, 0x3f800001u, one | N32, RNE, 0x34800000u, NX);
    fma32(0, 0, F32_MAX, two, F32_MAX | N32, RNE, F32_MAX, 0);
    fma32(0, 0, F32_MAX, two, 0, RTZ, F32_MAX, OF | NX);
    fma32(0, 0, 0x00000001u, 0x3f000000u, 0, RNE, 0, UF | NX);
    fma32(0, 0, one, 0x33800000u, one, RMM, 0x3f800001u, NX);
    fma32(0, 0, one, 0x33800000u, one, RNE, one, NX);
    fma32(0, 0, 0x3f800001u, 0x3f800001u, 0x80000001u, RTZ, 0x3f800002u, NX);
    fma64(0, 0, F64_INF, 0, F64_QNAN, RNE, CN64, NV);
    fma64(0, 0, 0, F64_INF, d1, RNE, CN64, NV);
    fma64(0, 0, F64_QNAN, 0, F64_INF, RNE, CN64, 0);
    fma64(0, 0, d1, d1, F64_SNAN, RNE, CN64, NV);
    fma64(0, 0, F64_INF, d1, F64_INF | N64, RNE, CN64, NV);
    fma64(1, 1, d1, d1, d1 | N64, RNE, 0, 0);
    fma64(1, 1, d1, d1, d1 | N64, RDN, N64, 0);
    fma64(0, 1, d1 + 1, 0x3feffffffffffffeull, d1, RNE, 0xb970000000000000ull, 0);
    fma64(0, 0, d1, 0x3ca0000000000000ull, d1, RMM, d1 + 1, NX);
    fma64(0, 0, d1, 0x3ca0000000000000ull, d1, RNE, d1, NX);
    fma64(0, 0, F64_MAX, 0x4000000000000000ull, F64_MAX | N64, RNE, F64_MAX, 0);
    fma64(0, 0, F64_MINN, 0x3fe0000000000000ull, 1, RNE, 0x0008000000000001ull, 0);
    fma64(0, 0, F64_MINN, 0x3fefffffffffffffull, 0, RNE, F64_MINN, UF | NX);
}

static void hand_cmp(void)
{
    struct {
        uint32_t a, b, mn, mx, fl_mm, eq, lt, le, fl_eq, fl_cmp;
    } t32v[] = {
        {N32, 0, N32, 0, 0, 1, 0, 1, 0, 0},
        {0, N32, N32, 0, 0, 1, 0, 1, 0, 0},
        {F32_QNAN_P, 0x3f800000u, 0x3f800000u, 0x3f800000u, 0, 0, 0, 0, 0, NV},
        {0x3f800000u, F32_SNAN, 0x3f800000u, 0x3f800000u, NV, 0, 0, 0, NV, NV},
        {F32_QNAN, F32_QNAN_P, CN32, CN32, 0, 0, 0, 0, 0, NV},
        {F32_SNAN, F32_QNAN, CN32, CN32, NV, 0, 0, 0, NV, NV},
        {F32_INF | N32, F32_MAX | N32, F32_INF | N32, F32_MAX | N32, 0, 0, 1, 1, 0, 0},
        {0x00000001u, 0x80000001u, 0x80000001u, 1, 0, 0, 0, 0, 0, 0},
        {0x3f800000u, 0x3f800000u, 0x3f800000u, 0x3f800000u, 0, 1, 0, 1, 0, 0},
        {0xbf800000u, 0xbf800001u, 0xbf800001u, 0xbf800000u, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof t32v / sizeof t32v[0]; i++) {
        uint32_t a = t32v[i].a, b = t32v[i].b, fl = 0, r;
        r = f32_min(a, b, &fl);
        expect_ctx("fmin.s", -1, a, b, 0, r, fl, t32v[i].mn, t32v[i].fl_mm);
        fl = 0;
        r = f32_max(a, b, &fl);
        expect_ctx("fmax.s", -1, a, b, 0, r, fl, t32v[i].mx, t32v[i].fl_mm);
        fl = 0;
        r = (uint32_t)f32_eq(a, b, &fl);
        expect_ctx("feq.s", -1, a, b, 0, r, fl, t32v[i].eq, t32v[i].fl_eq);
        fl = 0;
        r = (uint32_t)f32_lt(a, b, &fl);
        expect_ctx("flt.s", -1, a, b, 0, r, fl, t32v[i].lt, t32v[i].fl_cmp);
        fl = 0;
        r = (uint32_t)f32_le(a, b, &fl);
        expect_ctx("fle.s", -1, a, b, 0, r, fl, t32v[i].le, t32v[i].fl_cmp);
        /* the same values widened to binary64 */
        uint64_t A = 0, B = 0, f2 = 0;
        uint32_t wf = 0;
        A = f32_to_f64(a, &wf);
        B = f32_to_f64(b, &wf);
        if (a == F32_SNAN) A = F64_SNAN;
        if (b == F32_SNAN) B = F64_SNAN;
        uint64_t mn = f32_to_f64(t32v[i].mn, &wf), mx = f32_to_f64(t32v[i].mx, &wf);
        uint32_t fl2 = 0;
        f2 = f64_min(A, B, &fl2);
        expect_ctx("fmin.d", -1, A, B, 0, f2, fl2, mn, t32v[i].fl_mm);
        fl2 = 0;
        f2 = f64_max(A, B, &fl2);
        expect_ctx("fmax.d", -1, A, B, 0, f2, fl2, mx, t32v[i].fl_mm);
        fl2 = 0;
        f2 = (uint64_t)f64_eq(A, B, &fl2);
        expect_ctx("feq.d", -1, A, B, 0, f2, fl2, t32v[i].eq, t32v[i].fl_eq);
        fl2 = 0;
        f2 = (uint64_t)f64_lt(A, B, &fl2);
        expect_ctx("flt.d", -1, A, B, 0, f2, fl2, t32v[i].lt, t32v[i].fl_cmp);
        fl2 = 0;
        f2 = (uint64_t)f64_le(A, B, &fl2);
        expect_ctx("fle.d", -1, A, B, 0, f2, fl2, t32v[i].le, t32v[i].fl_cmp);
    }
    /* fclass: one value per class */
    const uint32_t cls32[10] = {F32_INF | N32, 0xbf800000u, 0x80000001u, N32,      0,
                                0x007fffffu,   F32_MAX,     F32_INF,     F32_SNAN, F32_QNAN_P};
    const uint64_t cls64[10] = {
        F64_INF | N64, 0xbff0000000000000ull, 0x800fffffffffffffull, N64, 0, 1, F64_MINN,
        F64_INF,       0x7ff7ffffffffffffull, 0xfff8000000000000ull};
    for (unsigned i = 0; i < 10; i++) {
        expect_ctx("fclass.s", -1, cls32[i], 0, 0, f32_class(cls32[i]), 0, 1u << i, 0);
        expect_ctx("fclass.d", -1, cls64[i], 0, 0, f64_class(cls64[i]), 0, 1u << i, 0);
    }
}

static void hand_cvt(void)
{
#define CV(fn, a, rm, want, wfl)                                                                   \
    do {                                                                                           \
        uint32_t fl_ = 0;                                                                          \
        uint64_t r_ = (uint64_t)fn(a, rm, &fl_);                                                   \
        expect_ctx(#fn, rm, (uint64_t)(a), 0, 0, r_, fl_, (uint64_t)(want), wfl);                  \
    } while (0)
    const uint32_t m03 = 0xbe99999au /* -0.3 */, m07 = 0xbf333333u, m05 = 0xbf000000u;
    const uint32_t p25 = 0x40200000u, m25 = 0xc0200000u;
    CV(f32_to_i32, F32_QNAN, RNE, 0x7fffffff, NV);
    CV(f32_to_i32, F32_SNAN | N32, RNE, 0x7fffffff, NV);
    CV(f32_to_i32, F32_INF, RNE, 0x7fffffff, NV);
    CV(f32_to_i32, F32_INF | N32, RNE, INT32_MIN, NV);
    CV(f32_to_i32, 0x4f000000u, RNE, 0x7fffffff, NV); /* 2^31 */
    CV(f32_to_i32, 0xcf000000u, RNE, INT32_MIN, 0);   /* -2^31 */
    CV(f32_to_i32, 0xcf000001u, RTZ, INT32_MIN, NV);
    CV(f32_to_i32, N32, RNE, 0, 0);
    CV(f32_to_i32, 0x00000001u, RUP, 1, NX);
    CV(f32_to_i32, 0x80000001u, RDN, -1, NX);
    CV(f32_to_i32, 0x80000001u, RNE, 0, NX);
    CV(f32_to_i32, p25, RNE, 2, NX);
    CV(f32_to_i32, p25, RMM, 3, NX);
    CV(f32_to_i32, p25, RTZ, 2, NX);
    CV(f32_to_i32, p25, RDN, 2, NX);
    CV(f32_to_i32, p25, RUP, 3, NX);
    CV(f32_to_i32, m25, RNE, -2, NX);
    CV(f32_to_i32, m25, RMM, -3, NX);
    CV(f32_to_i32, m25, RDN, -3, NX);
    CV(f32_to_i32, m25, RUP, -2, NX);
    CV(f32_to_i32, 0x3fc00000u, RNE, 2, NX); /* 1.5 */
    CV(f32_to_u32, m03, RTZ, 0, NX);
    CV(f32_to_u32, m03, RNE, 0, NX);
    CV(f32_to_u32, m03, RDN, 0, NV);
    CV(f32_to_u32, m07, RNE, 0, NV);
    CV(f32_to_u32, m07, RTZ, 0, NX);
    CV(f32_to_u32, m05, RNE, 0, NX);
    CV(f32_to_u32, m05, RMM, 0, NV);
    CV(f32_to_u32, 0xbf800000u, RTZ, 0, NV);
    CV(f32_to_u32, F32_QNAN, RNE, 0xffffffffu, NV);
    CV(f32_to_u32, F32_INF, RNE, 0xffffffffu, NV);
    CV(f32_to_u32, F32_INF | N32, RNE, 0, NV);
    CV(f32_to_u32, 0x4f800000u, RNE, 0xffffffffu, NV); /* 2^32 */
    CV(f32_to_u32, 0x4f7fffffu, RNE, 0xffffff00u, 0);
    CV(f32_to_u32, N32, RNE, 0, 0);
    CV(f32_to_i64, F32_QNAN, RNE, INT64_MAX, NV);
    CV(f32_to_i64, 0x5f000000u, RNE, INT64_MAX, NV); /* 2^63 */
    CV(f32_to_i64, 0xdf000000u, RNE, INT64_MIN, 0);
    CV(f32_to_i64, F32_INF | N32, RNE, INT64_MIN, NV);
    CV(f32_to_u64, F32_INF | N32, RNE, 0, NV);
    CV(f32_to_u64, 0x5f800000u, RNE, UINT64_MAX, NV); /* 2^64 */
    CV(f32_to_u64, 0x5f7fffffu, RNE, 0xffffff0000000000ull, 0);
    CV(f32_to_u64, m03, RUP, 0, NX);
    CV(f64_to_i32, F64_QNAN, RNE, 0x7fffffff, NV);
    CV(f64_to_i32, 0xc1e0000000100000ull, RTZ, INT32_MIN, NX); /* -2^31 - 0.5 */
    CV(f64_to_i32, 0xc1e0000000100000ull, RNE, INT32_MIN, NX);
    CV(f64_to_i32, 0xc1e0000000100000ull, RMM, INT32_MIN, NV);
    CV(f64_to_i32, 0xc1e0000000100000ull, RDN, INT32_MIN, NV);
    CV(f64_to_i32, 0x41dfffffffc00000ull, RNE, INT32_MAX, 0);
    CV(f64_to_i32, 0x41dfffffffc00001ull, RUP, INT32_MAX, NV);
    CV(f64_to_i32, 0x41dfffffffc00001ull, RTZ, INT32_MAX, NX);
    CV(f64_to_i32, 0x41dfffffffe00000ull, RNE, INT32_MAX, NV); /* 2^31 - 0.5 */
    CV(f64_to_i32, 0x41dfffffffe00000ull, RDN, INT32_MAX, NX);
    CV(f64_to_u32, 0xbfe0000000000000ull, RNE, 0, NX);
    CV(f64_to_u32, 0xbfe0000000000001ull, RNE, 0, NV);
    CV(f64_to_u32, 0x41efffffffe00000ull, RNE, 0xffffffffu, 0);
    CV(f64_to_u32, 0x41efffffffe00000ull, RUP, 0xffffffffu, 0);
    CV(f64_to_u32, 0x41efffffffefffffull, RNE, 0xffffffffu, NX);
    CV(f64_to_u32, 0x41efffffffefffffull, RUP, 0xffffffffu, NV);
    CV(f64_to_i64, 0x43e0000000000000ull, RNE, INT64_MAX, NV);
    CV(f64_to_i64, 0xc3e0000000000000ull, RNE, INT64_MIN, 0);
    CV(f64_to_i64, 0x43dfffffffffffffull, RNE, 0x7ffffffffffffc00ll, 0);
    CV(f64_to_i64, F64_SNAN | N64, RNE, INT64_MAX, NV);
    CV(f64_to_i64, 1, RDN, 0, NX);
    CV(f64_to_i64, N64 | 1, RDN, -1, NX);
    CV(f64_to_u64, 0x43f0000000000000ull, RNE, UINT64_MAX, NV);
    CV(f64_to_u64, 0x43efffffffffffffull, RNE, 0xfffffffffffff800ull, 0);
    CV(f64_to_u64, F64_INF | N64, RNE, 0, NV);
    CV(f64_to_u64, F64_QNAN | N64, RNE, UINT64_MAX, NV);
    CV(f64_to_u64, 0x3fe8000000000000ull, RMM, 1, NX);
    CV(f64_to_u64, 0x3fe0000000000000ull, RMM, 1, NX);
    CV(f64_to_u64, 0x3fe0000000000000ull, RNE, 0, NX);
    /* integer -> float */
    CV(i32_to_f32, 16777217, RNE, 0x4b800000u, NX);
    CV(i32_to_f32, 16777217, RMM, 0x4b800001u, NX);
    CV(i32_to_f32, 16777217, RUP, 0x4b800001u, NX);
    CV(i32_to_f32, -16777217, RDN, 0xcb800001u, NX);
    CV(i32_to_f32, -16777217, RTZ, 0xcb800000u, NX);
    CV(i32_to_f32, INT32_MIN, RNE, 0xcf000000u, 0);
    CV(i32_to_f32, 0, RDN, 0, 0);
    CV(u32_to_f32, 0xffffffffu, RNE, 0x4f800000u, NX);
    CV(u32_to_f32, 0xffffffffu, RTZ, 0x4f7fffffu, NX);
    CV(i64_to_f32, INT64_MIN, RNE, 0xdf000000u, 0);
    CV(i64_to_f32, INT64_MAX, RTZ, 0x5effffffu, NX);
    CV(u64_to_f32, UINT64_MAX, RNE, 0x5f800000u, NX);
    CV(u64_to_f32, UINT64_MAX, RTZ, 0x5f7fffffu, NX);
    CV(u64_to_f32, 0x8000008000000000ull, RNE, 0x5f000000u, NX);
    CV(u64_to_f32, 0x8000008000000000ull, RMM, 0x5f000001u, NX);
    CV(u64_to_f32, 0x8000008000000001ull, RNE, 0x5f000001u, NX);
    CV(i32_to_f64, INT32_MIN, RNE, 0xc1e0000000000000ull, 0);
    CV(u32_to_f64, 0xffffffffu, RNE, 0x41efffffffe00000ull, 0);
    CV(i64_to_f64, INT64_MIN, RNE, 0xc3e0000000000000ull, 0);
    CV(i64_to_f64, (1ll << 53) + 1, RNE, 0x4340000000000000ull, NX);
    CV(i64_to_f64, (1ll << 53) + 1, RMM, 0x4340000000000001ull, NX);
    CV(i64_to_f64, -(1ll << 53) - 1, RDN, 0xc340000000000001ull, NX);
    CV(u64_to_f64, UINT64_MAX, RNE, 0x43f0000000000000ull, NX);
    CV(u64_to_f64, UINT64_MAX, RTZ, 0x43efffffffffffffull, NX);
    CV(u64_to_f64, 0, RNE, 0, 0);
    /* binary64 -> binary32 */
    CV(f64_to_f32, 0x7e37e43c8800759cull /* 1e300 */, RNE, F32_INF, OF | NX);
    CV(f64_to_f32, 0x7e37e43c8800759cull, RTZ, F32_MAX, OF | NX);
    CV(f64_to_f32, 0xfe37e43c8800759cull, RUP, F32_MAX | N32, OF | NX);
    CV(f64_to_f32, 0xfe37e43c8800759cull, RMM, F32_INF | N32, OF | NX);
    CV(f64_to_f32, 1, RNE, 0, UF | NX);
    CV(f64_to_f32, 1, RUP, 1, UF | NX);
    CV(f64_to_f32, N64 | 1, RDN, 0x80000001u, UF | NX);
    CV(f64_to_f32, 0x36a0000000000000ull /* 2^-149 */, RNE, 1, 0);
    CV(f64_to_f32, 0x3690000000000000ull /* 2^-150 */, RNE, 0, UF | NX);
    CV(f64_to_f32, 0x3690000000000000ull, RMM, 1, UF | NX);
    CV(f64_to_f32, 0x3690000000000001ull, RNE, 1, UF | NX);
    CV(f64_to_f32, 0x380fffffffffffffull, RNE, F32_MINN, NX); /* just below 2^-126 */
    CV(f64_to_f32, 0x380fffffffffffffull, RTZ, 0x007fffffu, UF | NX);
    CV(f64_to_f32, 0x380ffffff0000000ull, RNE, F32_MINN, NX);      /* (1 - 2^-25) 2^-126 */
    CV(f64_to_f32, 0x380fffffe0000000ull, RNE, F32_MINN, UF | NX); /* (1 - 2^-24) 2^-126 */
    CV(f64_to_f32, 0x3ff0000010000000ull, RNE, 0x3f800000u, NX);
    CV(f64_to_f32, 0x3ff0000010000000ull, RMM, 0x3f800001u, NX);
    CV(f64_to_f32, 0x47effffff0000000ull, RNE, F32_INF, OF | NX); /* max + ulp/2 */
    CV(f64_to_f32, 0x47effffff0000000ull, RTZ, F32_MAX, NX);
    CV(f64_to_f32, 0x47efffffe0000000ull, RUP, F32_MAX, 0);
    CV(f64_to_f32, F64_SNAN, RNE, CN32, NV);
    CV(f64_to_f32, F64_QNAN_P | N64, RNE, CN32, 0);
    CV(f64_to_f32, F64_INF | N64, RNE, F32_INF | N32, 0);
    CV(f64_to_f32, N64, RNE, N32, 0);
    const uint32_t in[5] = {F32_SNAN, F32_QNAN_P | N32, 1, N32, F32_INF};
    const uint64_t out[5] = {CN64, CN64, 0x36a0000000000000ull, N64, F64_INF};
    for (int i = 0; i < 5; i++) {
        uint32_t fl = 0;
        uint64_t r = f32_to_f64(in[i], &fl);
        expect_ctx("f32_to_f64", -1, in[i], 0, 0, r, fl, out[i], i == 0 ? NV : 0);
    }
#undef CV
}

/* ======================================================================== */
/* Randomized differential test                                              */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A significand pattern of n bits: random, sparse, runs of ones, ... */
static uint64_t rnd_frac(unsigned n)
{
    uint64_t mask = (1ull << n) - 1, r = rnd();
    switch (rnd() % 8) {
    case 0: return 0;
    case 1: return (1ull << (rnd() % n)) & mask;                           /* one bit */
    case 2: return ((1ull << (rnd() % n)) | (1ull << (rnd() % n))) & mask; /* two bits */
    case 3: return (mask >> (rnd() % n)) & mask;                           /* low ones */
    case 4: return (mask << (rnd() % n)) & mask;                           /* high ones */
    case 5: return (r & mask) & ~((1ull << (rnd() % n)) - 1);              /* short */
    default: return r & mask;
    }
}

/* Exponent field choice biased to the interesting regions; near >= 0 asks
 * for an exponent close to that one. */
static unsigned rnd_exp(unsigned emax, int bias, int near)
{
    unsigned r = (unsigned)(rnd() % 32);
    int e;
    if (near >= 0 && r < 12)
        e = near + (int)(rnd() % 7) - 3;
    else if (r < 15)
        e = (int)(rnd() % 4); /* zero/subnormal and the first binades */
    else if (r < 18)
        e = (int)emax - 1 - (int)(rnd() % 4);
    else if (r < 24)
        e = bias + (int)(rnd() % 61) - 30;
    else if (r < 25)
        e = (int)emax; /* inf/NaN */
    else
        e = (int)(rnd() % emax);
    if (e < 0) e = 0;
    if (e > (int)emax) e = (int)emax;
    return (unsigned)e;
}

static uint64_t rnd_f64(int near)
{
    uint64_t s = rnd() & N64;
    unsigned e = rnd_exp(0x7ff, 1023, near);
    uint64_t f = rnd_frac(52);
    if (e == 0x7ff && f && rnd() % 2) f |= 1ull << 51; /* qNaN as often as sNaN */
    return s | ((uint64_t)e << 52) | f;
}
static uint32_t rnd_f32(int near)
{
    uint32_t s = (uint32_t)rnd() & N32;
    unsigned e = rnd_exp(0xff, 127, near);
    uint32_t f = (uint32_t)rnd_frac(23);
    if (e == 0xff && f && rnd() % 2) f |= 1u << 22;
    return s | (e << 23) | f;
}
static unsigned exp64(uint64_t a)
{
    return (unsigned)(a >> 52) & 0x7ff;
}
static unsigned exp32(uint64_t a)
{
    return (unsigned)(a >> 23) & 0xff;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Operands for op (binary ops get a second operand with a related exponent
 * so that cancellation, overflow and underflow are all exercised). */
static void gen_operands(int w, int op, uint64_t *a, uint64_t *b, uint64_t *cc)
{
    int emax = w == 32 ? 0xff : 0x7ff, bias = w == 32 ? 127 : 1023;
    int mant = w == 32 ? 23 : 52;
#define RF(near) (w == 32 ? (uint64_t)rnd_f32(near) : rnd_f64(near))
#define EXP(x)   (int)(w == 32 ? exp32(x) : exp64(x))
    *a = RF(-1);
    int ea = EXP(*a), near = -1;
    switch (op) {
    case FPU_OP_ADD:
    case FPU_OP_SUB: near = ea; break;
    case FPU_OP_MUL: {
        int k = (int)(rnd() % 4);
        int target = k == 0 ? 1 : k == 1 ? emax - 1 : k == 2 ? -mant / 2 : bias;
        near = clampi(target + bias - ea, 0, emax - 1);
        break;
    }
    case FPU_OP_DIV: {
        int k = (int)(rnd() % 4);
        int target = k == 0 ? 1 : k == 1 ? emax - 1 : k == 2 ? -mant / 2 : bias;
        near = clampi(ea - target + bias, 0, emax - 1);
        break;
    }
    default: near = -1; break;
    }
    *b = RF(rnd() % 4 ? near : -1);
    *cc = 0;
    if (op >= FPU_OP_FMADD && op <= FPU_OP_FNMADD) {
        int ep = EXP(*a) + EXP(*b) - bias; /* near the product */
        *cc = RF(rnd() % 4 ? clampi(ep, 0, emax - 1) : -1);
        if (rnd() % 3 == 0) { /* c = -(a*b) give or take a few ulps: deep cancellation */
            uint64_t p;
            if (w == 64) {
                volatile double x = u2d(*a), y = u2d(*b);
                p = d2u(x * y);
            } else {
                volatile float x = u2f((uint32_t)*a), y = u2f((uint32_t)*b);
                p = f2u(x * y);
            }
            p += (uint64_t)((int64_t)(rnd() % 9) - 4);
            if (w == 32) p &= 0xffffffffu;
            if (EXP(p) < emax) *cc = p ^ (rnd() % 8 ? (w == 64 ? N64 : N32) : 0);
        }
    }
#undef RF
#undef EXP
}

static uint32_t host_flags(int ex)
{
    uint32_t f = 0;
    if (ex & FE_INEXACT) f |= NX;
    if (ex & FE_UNDERFLOW) f |= UF;
    if (ex & FE_OVERFLOW) f |= OF;
    if (ex & FE_DIVBYZERO) f |= DZ;
    if (ex & FE_INVALID) f |= NV;
    return f;
}

static int is_qnan64(uint64_t a)
{
    return (a << 1) > (F64_INF << 1) && (a & (1ull << 51));
}
static int is_qnan32(uint64_t a)
{
    return ((uint32_t)a << 1) > (F32_INF << 1) && (a & (1u << 22));
}

/* Host evaluation of op in rounding mode rm (0..3): result bits with NaNs
 * canonicalized, and RISC-V flags. */
static uint64_t host_op(int w, int op, int rm, uint64_t a, uint64_t b, uint64_t cc, uint32_t *fl)
{
    uint64_t res = 0;
    int ex;
    fesetround(host_rm[rm]);
    if (w == 64) {
        volatile double x = u2d(a), y = u2d(b), z = u2d(cc), r = 0;
        feclearexcept(FE_ALL_EXCEPT);
        switch (op) {
        case FPU_OP_ADD: r = x + y; break;
        case FPU_OP_SUB: r = x - y; break;
        case FPU_OP_MUL: r = x * y; break;
        case FPU_OP_DIV: r = x / y; break;
        case FPU_OP_SQRT: r = __builtin_sqrt(x); break;
        case FPU_OP_FMADD: r = fma(x, y, z); break;
        case FPU_OP_FMSUB: r = fma(x, y, -z); break;
        case FPU_OP_FNMSUB: r = fma(-x, y, z); break;
        case FPU_OP_FNMADD: r = fma(-x, y, -z); break;
        }
        ex = fetestexcept(FE_ALL_EXCEPT);
        res = d2u(r);
        if (isnan(r)) res = CN64;
    } else if (op == FPU_OP_CVT_S_D) {
        volatile double x = u2d(a);
        volatile float r;
        feclearexcept(FE_ALL_EXCEPT);
        r = (float)x;
        ex = fetestexcept(FE_ALL_EXCEPT);
        res = isnan(r) ? CN32 : f2u(r);
    } else {
        volatile float x = u2f((uint32_t)a), y = u2f((uint32_t)b), z = u2f((uint32_t)cc), r = 0;
        feclearexcept(FE_ALL_EXCEPT);
        switch (op) {
        case FPU_OP_ADD: r = x + y; break;
        case FPU_OP_SUB: r = x - y; break;
        case FPU_OP_MUL: r = x * y; break;
        case FPU_OP_DIV: r = x / y; break;
        case FPU_OP_SQRT: r = __builtin_sqrtf(x); break;
        case FPU_OP_FMADD: r = fmaf(x, y, z); break;
        case FPU_OP_FMSUB: r = fmaf(x, y, -z); break;
        case FPU_OP_FNMSUB: r = fmaf(-x, y, z); break;
        case FPU_OP_FNMADD: r = fmaf(-x, y, -z); break;
        }
        ex = fetestexcept(FE_ALL_EXCEPT);
        res = isnan(r) ? CN32 : f2u(r);
    }
    fesetround(FE_TONEAREST);
    *fl = host_flags(ex);
    /* RISC-V: inf*0 + qNaN raises NV (x86 does not) */
    if (op >= FPU_OP_FMADD && op <= FPU_OP_FNMADD) {
        int inf0;
        if (w == 64)
            inf0 = ((a << 1) == (F64_INF << 1) && (b << 1) == 0) ||
                   ((b << 1) == (F64_INF << 1) && (a << 1) == 0);
        else
            inf0 = (((uint32_t)a << 1) == (F32_INF << 1) && ((uint32_t)b << 1) == 0) ||
                   (((uint32_t)b << 1) == (F32_INF << 1) && ((uint32_t)a << 1) == 0);
        if (inf0 && (w == 64 ? is_qnan64(cc) : is_qnan32(cc))) *fl |= NV;
    }
    return res;
}

/* The library's public entry point for op. */
static uint64_t lib_op(int w, int op, int rm, uint64_t a, uint64_t b, uint64_t cc, uint32_t *fl)
{
    if (op == FPU_OP_CVT_S_D) return f64_to_f32(a, rm, fl);
    if (w == 64) {
        switch (op) {
        case FPU_OP_ADD: return f64_add(a, b, rm, fl);
        case FPU_OP_SUB: return f64_sub(a, b, rm, fl);
        case FPU_OP_MUL: return f64_mul(a, b, rm, fl);
        case FPU_OP_DIV: return f64_div(a, b, rm, fl);
        case FPU_OP_SQRT: return f64_sqrt(a, rm, fl);
        case FPU_OP_FMADD: return f64_fma(a, b, cc, 0, 0, rm, fl);
        case FPU_OP_FMSUB: return f64_fma(a, b, cc, 0, 1, rm, fl);
        case FPU_OP_FNMSUB: return f64_fma(a, b, cc, 1, 0, rm, fl);
        case FPU_OP_FNMADD: return f64_fma(a, b, cc, 1, 1, rm, fl);
        }
    } else {
        uint32_t x = (uint32_t)a, y = (uint32_t)b, z = (uint32_t)cc;
        switch (op) {
        case FPU_OP_ADD: return f32_add(x, y, rm, fl);
        case FPU_OP_SUB: return f32_sub(x, y, rm, fl);
        case FPU_OP_MUL: return f32_mul(x, y, rm, fl);
        case FPU_OP_DIV: return f32_div(x, y, rm, fl);
        case FPU_OP_SQRT: return f32_sqrt(x, rm, fl);
        case FPU_OP_FMADD: return f32_fma(x, y, z, 0, 0, rm, fl);
        case FPU_OP_FMSUB: return f32_fma(x, y, z, 0, 1, rm, fl);
        case FPU_OP_FNMSUB: return f32_fma(x, y, z, 1, 0, rm, fl);
        case FPU_OP_FNMADD: return f32_fma(x, y, z, 1, 1, rm, fl);
        }
    }
    return 0;
}

static const char *op_name(int w, int op)
{
    static const char *const n64[] = {"fadd.d",  "fsub.d",  "fmul.d",   "fdiv.d",   "fsqrt.d",
                                      "fmadd.d", "fmsub.d", "fnmsub.d", "fnmadd.d", "fcvt.s.d"};
    static const char *const n32[] = {"fadd.s",  "fsub.s",  "fmul.s",   "fdiv.s",   "fsqrt.s",
                                      "fmadd.s", "fmsub.s", "fnmsub.s", "fnmadd.s", "fcvt.s.d"};
    return w == 64 ? n64[op] : n32[op];
}

#ifdef __SIZEOF_FLOAT128__
typedef __float128 quad;

/* binary128 square root by Newton iteration from the double estimate
 * (accurate far beyond the needs of the tie check, which is exact). */
static quad sqrtq_(quad a)
{
    quad y = __builtin_sqrt((double)a);
    for (int i = 0; i < 3; i++)
        y = (y + a / y) / 2;
    return y;
}

/* Exact value of op(a, b, c) in binary128 if representable there (then
 * returns 1; for div and sqrt returns 2 with an approximation, the caller
 * then verifies a candidate tie exactly). Non-finite operands are excluded
 * by the caller. */
static int exact_quad(int w, int op, uint64_t a, uint64_t b, uint64_t cc, quad *x)
{
    quad A, B, C;
    if (op == FPU_OP_CVT_S_D) {
        *x = (quad)u2d(a);
        return 1;
    }
    if (w == 64) {
        A = u2d(a), B = u2d(b), C = u2d(cc);
    } else {
        A = u2f((uint32_t)a), B = u2f((uint32_t)b), C = u2f((uint32_t)cc);
    }
    quad p, q;
    switch (op) {
    case FPU_OP_ADD: p = A, q = B; break;
    case FPU_OP_SUB: p = A, q = -B; break;
    case FPU_OP_MUL: *x = A * B; return 1;
    case FPU_OP_FMADD: p = A * B, q = C; break;
    case FPU_OP_FMSUB: p = A * B, q = -C; break;
    case FPU_OP_FNMSUB: p = -(A * B), q = C; break;
    case FPU_OP_FNMADD: p = -(A * B), q = -C; break;
    case FPU_OP_DIV: *x = A / B; return 2;
    case FPU_OP_SQRT: *x = sqrtq_(A); return 2;
    default: return 0;
    }
    quad s = p + q, bb = s - p, e = (p - (s - bb)) + (q - bb); /* TwoSum */
    *x = s;
    return e == 0;
}

/* RMM reference: the RNE result, except that an exact tie between two
 * representable neighbours goes to the one of larger magnitude. The flags are
 * those of RNE (ties are inexact in both; RMM's overflow and tininess agree
 * with RNE's on every tie). */
static uint64_t rmm_ref(int w, int op, uint64_t a, uint64_t b, uint64_t cc, uint32_t *fl)
{
    uint64_t r = host_op(w, op, RNE, a, b, cc, fl);
    int ow = op == FPU_OP_CVT_S_D ? 32 : w;
    quad x;
    if (!(*fl & NX)) return r;
    if (ow == 64 ? exp64(r) == 0x7ff : exp32(r) == 0xff) return r;
    int ex = exact_quad(w, op, a, b, cc, &x);
    if (!ex) return r;
    quad qr, qn;
    uint64_t nb;
    if (ow == 64) {
        qr = u2d(r);
        nb = x > qr ? (r >> 63 ? r - 1 : r + 1) : (r >> 63 ? r + 1 : r - 1);
        if ((r << 1) == 0) nb = x > 0 ? 1 : N64 | 1;
        qn = u2d(nb);
    } else {
        qr = u2f((uint32_t)r);
        nb = x > qr ? (r >> 31 ? r - 1 : r + 1) : (r >> 31 ? r + 1 : r - 1);
        if (((uint32_t)r << 1) == 0) nb = x > 0 ? 1 : N32 | 1;
        qn = u2f((uint32_t)nb);
        if (exp32(nb) == 0xff) qn = (quad)0x1p127 * 2; /* 2^128 */
    }
    if (ow == 64 && exp64(nb) == 0x7ff) return r; /* would need 2^1024: no tie below it */
    quad mid = (qr + qn) / 2;                     /* exact */
    if (ex == 1 && x != mid) return r;
    if (ex == 2) { /* is the quotient / root exactly mid? (products exact in binary128) */
        quad A = w == 64 ? (quad)u2d(a) : (quad)u2f((uint32_t)a);
        quad B = w == 64 ? (quad)u2d(b) : (quad)u2f((uint32_t)b);
        if (op == FPU_OP_DIV ? mid * B != A : mid * mid != A) return r;
    }
    /* tie: away from zero */
    quad ar = qr < 0 ? -qr : qr, an = qn < 0 ? -qn : qn;
    return an > ar ? nb : r;
}
#endif

/* float -> integer reference (x not NaN is not required). */
static uint64_t ref_f2i(double x, int rm, int sgnd, int ow, uint32_t *fl)
{
    uint64_t umax = ow == 64 ? UINT64_MAX : 0xffffffffu;
    uint64_t hi = sgnd ? umax >> 1 : umax;
    uint64_t lo = sgnd ? (ow == 64 ? (uint64_t)INT64_MIN : (uint64_t)(int64_t)INT32_MIN) : 0;
    *fl = 0;
    if (isnan(x)) {
        *fl = NV;
        return hi;
    }
    double r;
    if (rm == RMM) {
        r = round(x);
    } else {
        fesetround(host_rm[rm]);
        volatile double vx = x;
        r = nearbyint(vx);
        fesetround(FE_TONEAREST);
    }
    double lim_lo = sgnd ? -ldexp(1, ow - 1) : 0, lim_hi = ldexp(1, sgnd ? ow - 1 : ow);
    if (r < lim_lo || r >= lim_hi) {
        *fl = NV;
        return x < 0 ? lo : hi;
    }
    if (r != x) *fl = NX;
    if (r < 0) return (uint64_t)(int64_t)r;
    return (uint64_t)r;
}

/* integer -> float reference in rm (0..3 on the host; RMM by tie check). */
static uint64_t ref_i2f(int ow, int sgnd, uint64_t v, int rm, uint32_t *fl)
{
    volatile uint64_t uv = v;
    volatile int64_t sv = (int64_t)v;
    uint64_t res;
    int hrm = rm == RMM ? RNE : rm;
    fesetround(host_rm[hrm]);
    feclearexcept(FE_ALL_EXCEPT);
    if (ow == 64) {
        volatile double r = sgnd ? (double)sv : (double)uv;
        res = d2u(r);
    } else {
        volatile float r = sgnd ? (float)sv : (float)uv;
        res = f2u(r);
    }
    *fl = host_flags(fetestexcept(FE_ALL_EXCEPT));
    fesetround(FE_TONEAREST);
    if (rm == RMM && (*fl & NX)) {
        long double x = sgnd ? (long double)(int64_t)v : (long double)v; /* exact */
        long double r = ow == 64 ? (long double)u2d(res) : (long double)u2f((uint32_t)res);
        uint64_t nb = (x > 0) == (x > r) ? res + 1 : res - 1; /* neighbour toward x */
        long double n = ow == 64 ? (long double)u2d(nb) : (long double)u2f((uint32_t)nb);
        if (x * 2 == r + n && fabsl(n) > fabsl(r)) res = nb;
    }
    return res;
}

static void random_arith(long iters)
{
    static const int ops[] = {FPU_OP_ADD,    FPU_OP_SUB,    FPU_OP_MUL,   FPU_OP_DIV,
                              FPU_OP_SQRT,   FPU_OP_FMADD,  FPU_OP_FMSUB, FPU_OP_FNMSUB,
                              FPU_OP_FNMADD, FPU_OP_CVT_S_D};
    for (int w = 32; w <= 64; w += 32) {
        for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++) {
            int op = ops[oi];
            if (op == FPU_OP_CVT_S_D && w == 64) continue;
            const char *name = op_name(w, op);
            char soft_name[32];
            snprintf(soft_name, sizeof soft_name, "%s/soft", name);
            long n = iters;
            if (op >= FPU_OP_FMADD && op <= FPU_OP_FNMADD) n /= 2;
            for (long i = 0; i < n; i++) {
                uint64_t a, b, cc;
                if (op == FPU_OP_CVT_S_D) {
                    /* near binary32 underflow, subnormals, overflow, 1 */
                    static const int near[4] = {1023 - 126, 1023 - 126 - 23, 1023 + 127, 1023};
                    a = rnd_f64(rnd() % 4 ? near[rnd() % 4] : -1);
                    b = cc = 0;
                } else {
                    gen_operands(w, op, &a, &b, &cc);
                }
                for (int rm = 0; rm < 5; rm++) {
                    uint32_t hf = 0, lf = 0, sf = 0;
                    uint64_t want;
                    if (rm < 4) {
                        want = host_op(w, op, rm, a, b, cc, &hf);
                    } else {
#ifdef __SIZEOF_FLOAT128__
                        want = rmm_ref(w, op, a, b, cc, &hf);
#else
                        continue;
#endif
                    }
                    uint64_t got = lib_op(w, op, rm, a, b, cc, &lf);
                    expect_ctx(name, rm, a, b, cc, got, lf, want, hf);
                    got = fpu_soft(w, op, a, b, cc, rm, &sf);
                    expect_ctx(soft_name, rm, a, b, cc, got, sf, want, hf);
                }
            }
        }
    }
}

static uint64_t rnd_int(int ow)
{
    uint64_t v = rnd();
    switch (rnd() % 6) {
    case 0: v >>= rnd() % 64; break;
    case 1: v &= ~((1ull << (rnd() % 64)) - 1); break;           /* trailing zeros */
    case 2: v = (1ull << (rnd() % 64)) + (rnd() % 3) - 1; break; /* near powers of 2 */
    case 3: v = (v >> (rnd() % 64)) << (rnd() % 64); break;
    default: break;
    }
    if (ow == 32) v = (uint64_t)(uint32_t)v;
    return v;
}

static void random_cvt(long iters)
{
    char name[32];
    for (long i = 0; i < iters; i++) {
        /* float -> integer */
        uint64_t d = rnd_f64(1023 + (int)(rnd() % 66) - 2);
        uint32_t f = rnd_f32(127 + (int)(rnd() % 66) - 2);
        if (rnd() % 4 == 0) { /* near a half-integer */
            double x = (double)(int64_t)(rnd() >> (rnd() % 64)) + 0.5 * (double)(rnd() % 3);
            if (rnd() % 2) x = -x;
            d = d2u(x);
            f = f2u((float)x);
        }
        for (int rm = 0; rm < 5; rm++) {
            for (int k = 0; k < 4; k++) {
                int sgnd = !(k & 1), ow = k & 2 ? 64 : 32;
                uint32_t wf, lf = 0;
                uint64_t want = ref_f2i(u2d(d), rm, sgnd, ow, &wf), got = 0;
                switch (k) {
                case 0: got = (uint64_t)(int64_t)f64_to_i32(d, rm, &lf); break;
                case 1: got = f64_to_u32(d, rm, &lf); break;
                case 2: got = (uint64_t)f64_to_i64(d, rm, &lf); break;
                case 3: got = f64_to_u64(d, rm, &lf); break;
                }
                if (ow == 32 && sgnd) want = (uint64_t)(int64_t)(int32_t)want;
                snprintf(name, sizeof name, "fcvt.%s%s.d", ow == 64 ? "l" : "w", sgnd ? "" : "u");
                expect_ctx(name, rm, d, 0, 0, got, lf, want, wf);
                lf = 0;
                want = ref_f2i((double)u2f(f), rm, sgnd, ow, &wf);
                switch (k) {
                case 0: got = (uint64_t)(int64_t)f32_to_i32(f, rm, &lf); break;
                case 1: got = f32_to_u32(f, rm, &lf); break;
                case 2: got = (uint64_t)f32_to_i64(f, rm, &lf); break;
                case 3: got = f32_to_u64(f, rm, &lf); break;
                }
                if (ow == 32 && sgnd) want = (uint64_t)(int64_t)(int32_t)want;
                snprintf(name, sizeof name, "fcvt.%s%s.s", ow == 64 ? "l" : "w", sgnd ? "" : "u");
                expect_ctx(name, rm, f, 0, 0, got, lf, want, wf);
            }
        }
        /* integer -> float */
        for (int k = 0; k < 4; k++) {
            int sgnd = !(k & 1), iw = k & 2 ? 64 : 32;
            uint64_t v = rnd_int(iw);
            if (iw == 32 && sgnd) v = (uint64_t)(int64_t)(int32_t)v;
            for (int rm = 0; rm < 5; rm++) {
                uint32_t wf, lf = 0;
                uint64_t want, got = 0;
                want = ref_i2f(32, sgnd, v, rm, &wf);
                switch (k) {
                case 0: got = i32_to_f32((int32_t)v, rm, &lf); break;
                case 1: got = u32_to_f32((uint32_t)v, rm, &lf); break;
                case 2: got = i64_to_f32((int64_t)v, rm, &lf); break;
                case 3: got = u64_to_f32(v, rm, &lf); break;
                }
                snprintf(name, sizeof name, "fcvt.s.%s%s", iw == 64 ? "l" : "w", sgnd ? "" : "u");
                expect_ctx(name, rm, v, 0, 0, got, lf, want, wf);
                lf = 0;
                want = ref_i2f(64, sgnd, v, rm, &wf);
                switch (k) {
                case 0: got = i32_to_f64((int32_t)v, rm, &lf); break;
                case 1: got = u32_to_f64((uint32_t)v, rm, &lf); break;
                case 2: got = i64_to_f64((int64_t)v, rm, &lf); break;
                case 3: got = u64_to_f64(v, rm, &lf); break;
                }
                snprintf(name, sizeof name, "fcvt.d.%s%s", iw == 64 ? "l" : "w", sgnd ? "" : "u");
                expect_ctx(name, rm, v, 0, 0, got, lf, want, wf);
            }
        }
        /* binary32 -> binary64 */
        {
            uint32_t lf = 0, wf = 0;
            uint64_t got = f32_to_f64(f, &lf);
            volatile float vf = u2f(f);
            feclearexcept(FE_ALL_EXCEPT);
            volatile double vd = (double)vf;
            wf = host_flags(fetestexcept(FE_ALL_EXCEPT));
            uint64_t want = isnan(vd) ? CN64 : d2u(vd);
            expect_ctx("fcvt.d.s", -1, f, 0, 0, got, lf, want, wf);
        }
    }
}

/* Comparison, min/max and class references written from the spec. */
static void random_cmp(long iters)
{
    for (long i = 0; i < iters; i++) {
        for (int w = 32; w <= 64; w += 32) {
            uint64_t a, b;
            double x, y;
            int na, nb, sa, sb;
            if (w == 64) {
                a = rnd_f64(-1);
                b = rnd() % 4 ? rnd_f64((int)exp64(a)) : a ^ (rnd() % 2 ? N64 : 0);
                x = u2d(a), y = u2d(b);
                sa = (a << 1) > (F64_INF << 1) && !is_qnan64(a);
                sb = (b << 1) > (F64_INF << 1) && !is_qnan64(b);
            } else {
                a = rnd_f32(-1);
                b = rnd() % 4 ? rnd_f32((int)exp32(a)) : a ^ (rnd() % 2 ? N32 : 0);
                x = u2f((uint32_t)a), y = u2f((uint32_t)b);
                sa = ((uint32_t)a << 1) > (F32_INF << 1) && !is_qnan32(a);
                sb = ((uint32_t)b << 1) > (F32_INF << 1) && !is_qnan32(b);
            }
            na = isnan(x), nb = isnan(y);
            uint32_t snv = (sa || sb) ? NV : 0, anv = (na || nb) ? NV : 0;
            uint64_t cn = w == 64 ? CN64 : CN32;
            uint64_t wmin, wmax;
            if (na && nb)
                wmin = wmax = cn;
            else if (na)
                wmin = wmax = b;
            else if (nb)
                wmin = wmax = a;
            else if (x < y)
                wmin = a, wmax = b;
            else if (y < x)
                wmin = b, wmax = a;
            else if (signbit(x) != signbit(y))
                wmin = signbit(x) ? a : b, wmax = signbit(x) ? b : a;
            else
                wmin = wmax = a;
            uint32_t fl = 0;
            uint64_t r;
            const char *s = w == 64 ? "d" : "s";
            char nm[16];
#define CMPT(fn32, fn64, base, want, wfl)                                                          \
    do {                                                                                           \
        fl = 0;                                                                                    \
        r = w == 64 ? (uint64_t)fn64(a, b, &fl) : (uint64_t)fn32((uint32_t)a, (uint32_t)b, &fl);   \
        snprintf(nm, sizeof nm, "%s.%s", base, s);                                                 \
        expect_ctx(nm, -1, a, b, 0, r, fl, want, wfl);                                             \
    } while (0)
            CMPT(f32_min, f64_min, "fmin", wmin, snv);
            CMPT(f32_max, f64_max, "fmax", wmax, snv);
            CMPT(f32_eq, f64_eq, "feq", (uint64_t)(x == y), snv);
            CMPT(f32_lt, f64_lt, "flt", (uint64_t)(x < y), anv);
            CMPT(f32_le, f64_le, "fle", (uint64_t)(x <= y), anv);
#undef CMPT
            unsigned cls;
            switch (w == 64 ? fpclassify(x) : fpclassify(u2f((uint32_t)a))) {
            case FP_INFINITE: cls = signbit(x) ? 0 : 7; break;
            case FP_NORMAL: cls = signbit(x) ? 1 : 6; break;
            case FP_SUBNORMAL: cls = signbit(x) ? 2 : 5; break;
            case FP_ZERO: cls = signbit(x) ? 3 : 4; break;
            default: cls = sa ? 8 : 9; break;
            }
            r = w == 64 ? f64_class(a) : f32_class((uint32_t)a);
            expect_ctx(w == 64 ? "fclass.d" : "fclass.s", -1, a, 0, 0, r, 0, 1u << cls, 0);
        }
    }
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 20000;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x9e3779b97f4a7c15ull;
    if (!rng_state) rng_state = 1;

    /* The host must detect tininess after rounding for the comparison to be
     * meaningful: (1 - 2^-23)(1 + 2^-23) 2^-126 rounds to 2^-126. */
    {
        volatile float x = u2f(0x3f7ffffeu), y = u2f(0x00800001u), r;
        feclearexcept(FE_ALL_EXCEPT);
        r = x * y;
        CHECK(&c, f2u(r) == F32_MINN && !fetestexcept(FE_UNDERFLOW),
              "host detects tininess before rounding; differential test invalid");
    }

    hand_arith();
    hand_cmp();
    hand_cvt();
    unsigned hand = c.passed + c.failed;

    clock_t t0 = clock();
    tally = 1;
    random_arith(iters);
    random_cvt(iters);
    random_cmp(iters * 4);
    tally = 0;
    unsigned long vectors = 0;
    for (unsigned i = 0; i < 1024; i++)
        vectors += tally_tab[i].n;
    tally_report();
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    fprintf(stderr,
            "test_fpu: %u hand-picked checks; %lu random vectors in %.2fs, one check per "
            "operation and rounding mode (%u)\n",
            hand, vectors, secs, c.passed + c.failed - hand);
    return check_report(&c, "test_fpu");
}
