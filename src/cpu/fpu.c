/* IEEE-754 binary32/binary64 arithmetic with RISC-V F/D semantics.
 *
 * Structure
 *  - An exact software core, generic over the two formats (w = 32 or 64,
 *    values carried as uint64_t bit patterns).  A finite nonzero operand is
 *    unpacked to (E, sig): value = sig * 2^(E - 62) with sig in [2^62, 2^63);
 *    results are computed with extra low bits (the lowest one a "sticky" bit
 *    that is set when anything nonzero was shifted out) and rounded once by
 *    round_pack(), which implements the five rounding modes, overflow per
 *    mode, subnormals and tininess-after-rounding.
 *  - Fast paths on the host FPU, used only where provably bit-exact:
 *    * binary64 add/sub/mul/div/sqrt/fma: the host computes s = RNE(x); the
 *      exact error x - s is obtained from TwoSum (add), fma(a, b, -s) (mul),
 *      fma(-q, b, a) (div), fma(-s, s, a) (sqrt) or the ErrFma algorithm of
 *      Boldo & Muller (fma; libm fma(), no -mfma needed), under exponent-range
 *      conditions that guarantee it is exactly representable and that the
 *      result is neither tiny nor overflowing.  Its sign decides NX and the
 *      directed/RMM adjustment of s by one ulp (adjust64()).
 *    * binary32 add/sub/mul/div/sqrt/fma and f64->f32: the operation is done
 *      in binary64 where it is exact (mul, fma product) or exact plus an exact
 *      TwoSum residual (add, fma) or "faithful" (div, sqrt: a binary32
 *      quotient/root is never within 2^-47 relative of a binary32 value or
 *      midpoint unless exactly on it, so its binary64 approximation lies on
 *      the same side of every binary32 rounding boundary); the binary64 value
 *      is then rounded to binary32 by round_pack().
 *    These paths assume the host's dynamic rounding mode is round-to-nearest
 *    (the C default; vmon never changes it) and no flush-to-zero/DAZ.
 *    Operands or results outside the fast-path ranges (NaN, inf, zero in some
 *    ops, subnormal, near overflow/underflow) take the software path.
 *  - Conversions to/from integers, comparisons, min/max and classification
 *    are pure integer code.
 * No global state; no host FP environment is read or modified. */
#include "cpu/fpu.h"
#include <math.h>
#include <string.h>

/* The error terms below must not be fused into FMAs by the compiler (GCC in
 * ISO C mode never contracts; clang does within expressions by default). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

typedef unsigned __int128 u128;

#define INL         static inline __attribute__((always_inline))
#define SLOW        static __attribute__((noinline))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* format parameters, w = 32 or 64 */
#define FMT_P(w)    ((w) == 32 ? 24 : 53) /* precision */
#define FMT_BIAS(w) ((w) == 32 ? 127 : 1023)
#define FMT_EMAX(w) ((unsigned)((w) == 32 ? 0xff : 0x7ff)) /* all-ones exponent */
#define FMT_SIGN(w) ((uint64_t)1 << ((w)-1))
#define FMT_FRAC(w) (((uint64_t)1 << (FMT_P(w) - 1)) - 1)
#define FMT_QBIT(w) ((uint64_t)1 << (FMT_P(w) - 2))
#define FMT_INF(w)  ((uint64_t)FMT_EMAX(w) << (FMT_P(w) - 1))
#define FMT_NAN(w)  ((w) == 32 ? (uint64_t)FPU_F32_CANON_NAN : FPU_F64_CANON_NAN)

INL unsigned fexp(int w, uint64_t a)
{
    return (unsigned)(a >> (FMT_P(w) - 1)) & FMT_EMAX(w);
}
INL uint64_t fmag(int w, uint64_t a)
{
    return a & (FMT_SIGN(w) - 1);
}
INL int fsign(int w, uint64_t a)
{
    return (int)(a >> (w - 1)) & 1;
}
INL int is_nan(int w, uint64_t a)
{
    return fmag(w, a) > FMT_INF(w);
}
INL int is_snan(int w, uint64_t a)
{
    return is_nan(w, a) && !(a & FMT_QBIT(w));
}
INL int is_inf(int w, uint64_t a)
{
    return fmag(w, a) == FMT_INF(w);
}

INL double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}
INL uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}
INL double f2d(uint32_t u) /* binary32 bits -> double (exact for non-NaN) */
{
    float f;
    memcpy(&f, &u, sizeof f);
    return (double)f;
}

/* Shift right, ORing everything shifted out into bit 0. */
INL uint64_t shr_jam64(uint64_t x, unsigned n)
{
    if (n == 0) return x;
    if (n < 64) return (x >> n) | ((x << (64 - n)) != 0);
    return x != 0;
}
INL u128 shr_jam128(u128 x, unsigned n)
{
    if (n == 0) return x;
    if (n < 128) return (x >> n) | (u128)((x << (128 - n)) != 0);
    return x != 0;
}
INL int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

/* Should the truncated magnitude q be incremented?  rem (nonzero) is the
 * discarded part, half the weight of half an ulp of q. */
INL int round_inc(int rm, int sign, uint64_t q, uint64_t rem, uint64_t half)
{
    switch (rm) {
    case FPU_RNE: return rem > half || (rem == half && (q & 1));
    case FPU_RMM: return rem >= half;
    case FPU_RDN: return sign;
    case FPU_RUP: return !sign;
    default: return 0;
    }
}

/* The constant that, added to sig before truncating its low sh bits
 * (1 <= sh <= 63), rounds the magnitude in mode rm: (sig + k) >> sh. */
INL uint64_t round_add(int rm, int sign, uint64_t sig, unsigned sh)
{
    const uint64_t mask = ((uint64_t)1 << sh) - 1, half = (uint64_t)1 << (sh - 1);
    switch (rm) {
    case FPU_RNE: return half - 1 + ((sig >> sh) & 1);
    case FPU_RMM: return half;
    case FPU_RDN: return sign ? mask : 0;
    case FPU_RUP: return sign ? 0 : mask;
    default: return 0;
    }
}

INL uint64_t overflow(int w, int sign, int rm, uint32_t *fl)
{
    *fl |= FPU_OF | FPU_NX;
    int to_inf =
        rm == FPU_RNE || rm == FPU_RMM || (rm == FPU_RDN && sign) || (rm == FPU_RUP && !sign);
    return (sign ? FMT_SIGN(w) : 0) | (to_inf ? FMT_INF(w) : FMT_INF(w) - 1);
}

/* Round (-1)^sign * sig * 2^(E - 62) (sig in [2^62, 2^63), bit 0 sticky) to
 * format w with mode rm.  Tininess is detected after rounding. */
INL uint64_t round_pack(int w, int sign, int E, uint64_t sig, int rm, uint32_t *fl)
{
    const int p = FMT_P(w);
    const unsigned sh = 63 - (unsigned)p; /* 10 or 39 extra bits */
    const uint64_t sgn = sign ? FMT_SIGN(w) : 0;
    const int be = E + FMT_BIAS(w);
    if (likely(be >= 1 && be < (int)FMT_EMAX(w))) {
        *fl |= (sig & (((uint64_t)1 << sh) - 1)) ? FPU_NX : 0;
        uint64_t q = (sig + round_add(rm, sign, sig, sh)) >> sh; /* up to 2^p */
        uint64_t r = ((uint64_t)(be - 1) << (p - 1)) + q;        /* a carry bumps the exponent */
        if (unlikely(r >= FMT_INF(w))) return overflow(w, sign, rm, fl);
        return sgn | r;
    }
    if (be >= (int)FMT_EMAX(w)) return overflow(w, sign, rm, fl);
    /* Below the normal range before rounding: tiny unless rounding to p bits
     * with unbounded exponent carries up to the smallest normal. */
    int tiny = 1;
    if (be == 0) {
        uint64_t q = sig >> sh, rem = sig & (((uint64_t)1 << sh) - 1);
        if (rem && q == ((uint64_t)1 << p) - 1 &&
            round_inc(rm, sign, q, rem, (uint64_t)1 << (sh - 1)))
            tiny = 0;
    }
    unsigned tot = sh + (unsigned)(1 - be);
    uint64_t q, rem, half;
    if (tot < 64) {
        q = sig >> tot;
        rem = sig & (((uint64_t)1 << tot) - 1);
        half = (uint64_t)1 << (tot - 1);
    } else { /* everything shifted out; sig < 2^63 so below half an ulp */
        q = 0;
        rem = 1;
        half = 2;
    }
    if (rem) {
        *fl |= FPU_NX | (tiny ? FPU_UF : 0);
        q += (uint64_t)round_inc(rm, sign, q, rem, half); /* may reach the min normal */
    }
    return sgn | q;
}

/* Finite nonzero a -> value = sig * 2^(E - 62), sig in [2^62, 2^63). */
INL void unpack(int w, uint64_t a, int *E, uint64_t *sig)
{
    const int p = FMT_P(w);
    unsigned ef = fexp(w, a);
    uint64_t f = a & FMT_FRAC(w);
    if (likely(ef)) {
        *sig = (f | ((uint64_t)1 << (p - 1))) << (63 - p);
        *E = (int)ef - FMT_BIAS(w);
    } else {
        int k = __builtin_clzll(f) - 1;
        *sig = f << k;
        *E = 1 - FMT_BIAS(w) + 62 - (p - 1) - k;
    }
}

INL uint64_t nan2(int w, uint64_t a, uint64_t b, uint32_t *fl)
{
    if (is_snan(w, a) || is_snan(w, b)) *fl |= FPU_NV;
    return FMT_NAN(w);
}

INL uint64_t zero_sum(int w, int rm)
{
    return rm == FPU_RDN ? FMT_SIGN(w) : 0;
}

/* ------------------------------------------------------------------------ */
/* Exact software operations                                                */

INL uint64_t soft_add(int w, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    const unsigned EM = FMT_EMAX(w);
    unsigned ea = fexp(w, a), eb = fexp(w, b);
    if (ea == EM || eb == EM) {
        if (is_nan(w, a) || is_nan(w, b)) return nan2(w, a, b, fl);
        if (ea == EM && eb == EM && fsign(w, a) != fsign(w, b)) {
            *fl |= FPU_NV;
            return FMT_NAN(w);
        }
        return ea == EM ? a : b;
    }
    if (fmag(w, a) == 0 || fmag(w, b) == 0) {
        if (fmag(w, a) == 0 && fmag(w, b) == 0)
            return fsign(w, a) == fsign(w, b) ? a : zero_sum(w, rm);
        return fmag(w, a) == 0 ? b : a;
    }
    int sa = fsign(w, a), sb = fsign(w, b), Ea, Eb;
    uint64_t ma, mb;
    unpack(w, a, &Ea, &ma);
    unpack(w, b, &Eb, &mb);
    if (Ea < Eb || (Ea == Eb && ma < mb)) {
        int ti = Ea;
        Ea = Eb;
        Eb = ti;
        uint64_t tm = ma;
        ma = mb;
        mb = tm;
        ti = sa;
        sa = sb;
        sb = ti;
    }
    mb = shr_jam64(mb, (unsigned)(Ea - Eb));
    if (sa == sb) {
        uint64_t s = ma + mb;
        if (s >> 63) {
            s = (s >> 1) | (s & 1);
            Ea++;
        }
        return round_pack(w, sa, Ea, s, rm, fl);
    }
    uint64_t d = ma - mb;
    if (d == 0) return zero_sum(w, rm);
    int k = __builtin_clzll(d) - 1;
    return round_pack(w, sa, Ea - k, d << k, rm, fl);
}

/* Round the exact product of two finite nonzero values. */
INL uint64_t mul_core(int w, int sign, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    int Ea, Eb;
    uint64_t ma, mb;
    unpack(w, a, &Ea, &ma);
    unpack(w, b, &Eb, &mb);
    u128 pr = (u128)ma * mb; /* [2^124, 2^126) */
    int E = Ea + Eb;
    uint64_t sig;
    if (pr >> 125) {
        sig = (uint64_t)(pr >> 63) | ((uint64_t)pr << 1 != 0);
        E++;
    } else {
        sig = (uint64_t)(pr >> 62) | (((uint64_t)pr << 2) != 0);
    }
    return round_pack(w, sign, E, sig, rm, fl);
}

INL uint64_t soft_mul(int w, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    const unsigned EM = FMT_EMAX(w);
    int sign = fsign(w, a) ^ fsign(w, b);
    uint64_t sgn = sign ? FMT_SIGN(w) : 0;
    unsigned ea = fexp(w, a), eb = fexp(w, b);
    if (ea == EM || eb == EM) {
        if (is_nan(w, a) || is_nan(w, b)) return nan2(w, a, b, fl);
        if (fmag(w, a) == 0 || fmag(w, b) == 0) {
            *fl |= FPU_NV;
            return FMT_NAN(w);
        }
        return sgn | FMT_INF(w);
    }
    if (fmag(w, a) == 0 || fmag(w, b) == 0) return sgn;
    return mul_core(w, sign, a, b, rm, fl);
}

INL uint64_t soft_div(int w, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    const unsigned EM = FMT_EMAX(w);
    int sign = fsign(w, a) ^ fsign(w, b);
    uint64_t sgn = sign ? FMT_SIGN(w) : 0;
    unsigned ea = fexp(w, a), eb = fexp(w, b);
    if (ea == EM || eb == EM) {
        if (is_nan(w, a) || is_nan(w, b)) return nan2(w, a, b, fl);
        if (ea == EM && eb == EM) {
            *fl |= FPU_NV;
            return FMT_NAN(w);
        }
        return ea == EM ? sgn | FMT_INF(w) : sgn;
    }
    if (fmag(w, b) == 0) {
        if (fmag(w, a) == 0) {
            *fl |= FPU_NV;
            return FMT_NAN(w);
        }
        *fl |= FPU_DZ;
        return sgn | FMT_INF(w);
    }
    if (fmag(w, a) == 0) return sgn;
    int Ea, Eb;
    uint64_t ma, mb;
    unpack(w, a, &Ea, &ma);
    unpack(w, b, &Eb, &mb);
    u128 num = (u128)ma << 63;
    uint64_t q = (uint64_t)(num / mb); /* (2^62, 2^64) */
    int sticky = (uint64_t)(num % mb) != 0;
    int E;
    if (q >> 63) {
        q = (q >> 1) | (q & 1);
        E = Ea - Eb;
    } else {
        E = Ea - Eb - 1;
    }
    return round_pack(w, sign, E, q | (uint64_t)sticky, rm, fl);
}

/* floor(sqrt(m)) for m in [2^124, 2^126); *exact set if m is a square. */
INL uint64_t isqrt128(u128 m, int *exact)
{
    uint64_t r = (uint64_t)sqrt((double)m); /* within ~2^11 */
    if (r < ((uint64_t)1 << 62)) r = (uint64_t)1 << 62;
    u128 t = ((u128)r + (uint64_t)(m / r)) >> 1; /* Newton: now r or r+1 */
    r = (uint64_t)t;
    while ((u128)r * r > m)
        r--;
    while ((u128)(r + 1) * (r + 1) <= m)
        r++;
    *exact = (u128)r * r == m;
    return r;
}

INL uint64_t soft_sqrt(int w, uint64_t a, int rm, uint32_t *fl)
{
    if (is_nan(w, a)) return nan2(w, a, a, fl);
    if (fmag(w, a) == 0) return a;
    if (fsign(w, a)) {
        *fl |= FPU_NV;
        return FMT_NAN(w);
    }
    if (is_inf(w, a)) return a;
    int E, exact;
    uint64_t sig;
    unpack(w, a, &E, &sig);
    int odd = E & 1;
    u128 m = (u128)sig << (62 + odd);
    uint64_t r = isqrt128(m, &exact);
    return round_pack(w, 0, (E - odd) / 2, r | (uint64_t)!exact, rm, fl);
}

INL uint64_t soft_fma(int w, uint64_t a, uint64_t b, uint64_t c, int np, int na, int rm,
                      uint32_t *fl)
{
    const unsigned EM = FMT_EMAX(w);
    const uint64_t S = FMT_SIGN(w);
    int sp = fsign(w, a) ^ fsign(w, b) ^ (np != 0), sc = fsign(w, c) ^ (na != 0);
    unsigned ea = fexp(w, a), eb = fexp(w, b), ec = fexp(w, c);
    int za = fmag(w, a) == 0, zb = fmag(w, b) == 0, zc = fmag(w, c) == 0;
    if (unlikely(ea == EM || eb == EM || ec == EM)) {
        if (is_snan(w, a) || is_snan(w, b) || is_snan(w, c)) *fl |= FPU_NV;
        if ((is_inf(w, a) && zb) || (za && is_inf(w, b))) {
            *fl |= FPU_NV;
            return FMT_NAN(w);
        }
        if (is_nan(w, a) || is_nan(w, b) || is_nan(w, c)) return FMT_NAN(w);
        if (ea == EM || eb == EM) {
            if (ec == EM && sp != sc) {
                *fl |= FPU_NV;
                return FMT_NAN(w);
            }
            return (sp ? S : 0) | FMT_INF(w);
        }
        return (sc ? S : 0) | FMT_INF(w);
    }
    if (za || zb) {
        if (zc) return sp == sc ? (sp ? S : 0) : zero_sum(w, rm);
        return (sc ? S : 0) | fmag(w, c);
    }
    if (zc) return mul_core(w, sp, a, b, rm, fl);

    int Ea, Eb, Ec;
    uint64_t ma, mb, mc;
    unpack(w, a, &Ea, &ma);
    unpack(w, b, &Eb, &mb);
    unpack(w, c, &Ec, &mc);
    /* Both addends as 128-bit integers with the leading bit at 125:
     * value = X * 2^(Ex - 125). */
    u128 X = (u128)ma * mb;
    int Ex = Ea + Eb;
    if (X >> 125)
        Ex++;
    else
        X <<= 1;
    u128 Y = (u128)mc << 63;
    int Ey = Ec, sx = sp, sy = sc;
    if (Ex < Ey || (Ex == Ey && X < Y)) {
        u128 tu = X;
        X = Y;
        Y = tu;
        int ti = Ex;
        Ex = Ey;
        Ey = ti;
        ti = sx;
        sx = sy;
        sy = ti;
    }
    Y = shr_jam128(Y, (unsigned)(Ex - Ey));
    u128 R;
    if (sx == sy) {
        R = X + Y; /* < 2^127 */
    } else {
        R = X - Y;
        if (R == 0) return zero_sum(w, rm);
    }
    int msb = 127 - clz128(R);
    int E = Ex + msb - 125;
    uint64_t sig;
    if (msb >= 62) {
        u128 t = shr_jam128(R, (unsigned)(msb - 62));
        sig = (uint64_t)t;
    } else {
        sig = (uint64_t)R << (62 - msb);
    }
    return round_pack(w, sx, E, sig, rm, fl);
}

/* ---- comparisons, min/max, class ---- */

/* Total order key on non-NaN values with -0 < +0. */
INL uint64_t okey(int w, uint64_t a)
{
    return fsign(w, a) ? (FMT_SIGN(w) - 1) - fmag(w, a) : FMT_SIGN(w) + a;
}

INL uint64_t fminmax(int w, uint64_t a, uint64_t b, int is_max, uint32_t *fl)
{
    int na = is_nan(w, a), nb = is_nan(w, b);
    if (na || nb) {
        if (is_snan(w, a) || is_snan(w, b)) *fl |= FPU_NV;
        if (na && nb) return FMT_NAN(w);
        return na ? b : a;
    }
    int a_less = okey(w, a) < okey(w, b);
    return (a_less ^ is_max) ? a : b;
}

INL int feq(int w, uint64_t a, uint64_t b, uint32_t *fl)
{
    if (is_nan(w, a) || is_nan(w, b)) {
        if (is_snan(w, a) || is_snan(w, b)) *fl |= FPU_NV;
        return 0;
    }
    return a == b || (fmag(w, a) | fmag(w, b)) == 0;
}

INL int flt(int w, uint64_t a, uint64_t b, uint32_t *fl)
{
    if (is_nan(w, a) || is_nan(w, b)) {
        *fl |= FPU_NV;
        return 0;
    }
    if ((fmag(w, a) | fmag(w, b)) == 0) return 0;
    return okey(w, a) < okey(w, b);
}

INL int fle(int w, uint64_t a, uint64_t b, uint32_t *fl)
{
    if (is_nan(w, a) || is_nan(w, b)) {
        *fl |= FPU_NV;
        return 0;
    }
    if ((fmag(w, a) | fmag(w, b)) == 0) return 1;
    return okey(w, a) <= okey(w, b);
}

INL unsigned fclass(int w, uint64_t a)
{
    int s = fsign(w, a);
    unsigned e = fexp(w, a);
    uint64_t f = a & FMT_FRAC(w);
    if (e == FMT_EMAX(w)) {
        if (f == 0) return s ? 1u << 0 : 1u << 7;
        return (a & FMT_QBIT(w)) ? 1u << 9 : 1u << 8;
    }
    if (e == 0) {
        if (f == 0) return s ? 1u << 3 : 1u << 4;
        return s ? 1u << 2 : 1u << 5;
    }
    return s ? 1u << 1 : 1u << 6;
}

/* ---- conversions ---- */

/* Float -> integer of width ow (32/64), signed or not; the result is
 * returned as a two's complement bit pattern (truncated by the caller). */
INL uint64_t f_to_int(int w, uint64_t a, int rm, uint32_t *fl, int sgnd, int ow)
{
    const uint64_t umax = ow == 64 ? ~(uint64_t)0 : 0xffffffffu;
    const uint64_t smax = umax >> 1;
    const uint64_t hi = sgnd ? smax : umax;                  /* largest value */
    const uint64_t lo = sgnd ? (uint64_t)0 - (smax + 1) : 0; /* smallest, as bits */
    int sign = fsign(w, a);
    if (is_nan(w, a)) {
        *fl |= FPU_NV;
        return hi;
    }
    if (fmag(w, a) == 0) return 0;
    if (fexp(w, a) == FMT_EMAX(w)) goto invalid;
    int E, inexact = 0;
    uint64_t sig, m;
    unpack(w, a, &E, &sig);
    if (E >= 64) goto invalid;
    if (E >= 62) {
        m = sig << (E - 62);
    } else {
        unsigned tot = (unsigned)(62 - E);
        if (tot < 64) {
            inexact = (sig & (((uint64_t)1 << tot) - 1)) != 0;
            m = (sig + round_add(rm, sign, sig, tot)) >> tot; /* sig + add < 2^64 */
        } else {                                              /* |a| < 2^-1: below half */
            inexact = 1;
            m = (uint64_t)round_inc(rm, sign, 0, 1, 2);
        }
    }
    uint64_t r;
    if (sign) {
        if (sgnd ? m > smax + 1 : m != 0) goto invalid;
        r = (uint64_t)0 - m;
    } else {
        if (m > hi) goto invalid;
        r = m;
    }
    if (inexact) *fl |= FPU_NX;
    return r;
invalid:
    *fl |= FPU_NV;
    return sign ? lo : hi;
}

INL uint64_t int_to_f(int w, int sign, uint64_t m, int rm, uint32_t *fl)
{
    if (m == 0) return 0;
    int msb = 63 - __builtin_clzll(m);
    if (msb == 63) return round_pack(w, sign, 63, (m >> 1) | (m & 1), rm, fl);
    return round_pack(w, sign, msb, m << (62 - msb), rm, fl);
}

/* ------------------------------------------------------------------------ */
/* Out-of-line slow paths                                                   */

SLOW uint64_t add_slow64(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    return soft_add(64, a, b, rm, fl);
}
SLOW uint64_t mul_slow64(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    return soft_mul(64, a, b, rm, fl);
}
SLOW uint64_t div_slow64(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    return soft_div(64, a, b, rm, fl);
}
SLOW uint64_t sqrt_slow64(uint64_t a, int rm, uint32_t *fl)
{
    return soft_sqrt(64, a, rm, fl);
}
SLOW uint64_t add_slow32(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    return soft_add(32, a, b, rm, fl);
}
SLOW uint64_t mul_slow32(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    return soft_mul(32, a, b, rm, fl);
}
SLOW uint64_t div_slow32(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    return soft_div(32, a, b, rm, fl);
}
SLOW uint64_t sqrt_slow32(uint64_t a, int rm, uint32_t *fl)
{
    return soft_sqrt(32, a, rm, fl);
}
SLOW uint64_t fma_slow32(uint64_t a, uint64_t b, uint64_t c, int np, int na, int rm, uint32_t *fl)
{
    return soft_fma(32, a, b, c, np, na, rm, fl);
}
SLOW uint64_t f64_to_f32_slow(uint64_t a, int rm, uint32_t *fl)
{
    if (is_nan(64, a)) return nan2(32, is_snan(64, a) ? 0x7f800001u : 0, 0, fl);
    uint64_t sgn = fsign(64, a) ? FMT_SIGN(32) : 0;
    if (is_inf(64, a)) return sgn | FMT_INF(32);
    if (fmag(64, a) == 0) return sgn;
    int E;
    uint64_t sig;
    unpack(64, a, &E, &sig);
    return round_pack(32, fsign(64, a), E, sig, rm, fl);
}

/* ------------------------------------------------------------------------ */
/* binary64 fast-path helpers                                               */

/* Half an ulp of the positive-or-negative normal s (exponent field >= 2), as
 * the bit pattern of a positive double. */
INL uint64_t halfulp64(uint64_t s)
{
    unsigned e = fexp(64, s);
    return e > 53 ? (uint64_t)(e - 53) << 52 : (uint64_t)1 << (e - 2);
}

/* s = RNE(x) is finite with |s| >= 2^-1021, x != s.  away: |x| > |s|;
 * err: x - s (exact), used by RMM to detect a tie.  Returns the rounding of
 * x in mode rm and raises NX (and OF if a step reaches infinity). */
INL uint64_t adjust64(uint64_t s, int away, double err, int rm, uint32_t *fl)
{
    *fl |= FPU_NX;
    /* branch-free (on the data) step of the magnitude by -1, 0 or +1 */
    const uint64_t aw = (uint64_t)(away != 0), ng = s >> 63;
    switch (rm) {
    case FPU_RNE: return s;
    case FPU_RTZ: s -= aw ^ 1; break;
    case FPU_RDN: s = s + (aw & ng) - ((aw ^ 1) & (ng ^ 1)); break;
    case FPU_RUP: s = s + (aw & (ng ^ 1)) - ((aw ^ 1) & ng); break;
    default: s += aw & (uint64_t)((d2u(err) << 1 >> 1) == halfulp64(s)); break;
    }
    *fl |= fexp(64, s) == 0x7ff ? FPU_OF : 0;
    return s;
}

/* Round a nonzero normal double d (the exact result, or one on the same side
 * of every binary32 rounding boundary) plus a residual e (|e| < ulp(d),
 * x = d + e exactly; only its sign matters) to binary32. */
INL uint32_t dd_to_f32(double d, double e, int rm, uint32_t *fl)
{
    uint64_t u = d2u(d);
    int sign = (int)(u >> 63);
    int E = (int)((u >> 52) & 0x7ff) - 1023;
    uint64_t sig = ((u & FMT_FRAC(64)) | ((uint64_t)1 << 52)) << 10;
    if (e != 0) {
        if ((int)(d2u(e) >> 63) == sign) {
            sig |= 1;
        } else {
            sig -= 1;
            if (!(sig >> 62)) {
                sig = (sig << 1) | 1;
                E--;
            }
        }
    }
    return (uint32_t)round_pack(32, sign, E, sig, rm, fl);
}

/* ------------------------------------------------------------------------ */
/* binary64 public operations                                               */

uint64_t f64_add(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    unsigned ea = fexp(64, a), eb = fexp(64, b);
    if (likely(ea < 0x7fe && eb < 0x7fe)) {
        double x = u2d(a), y = u2d(b);
        double s = x + y;
        uint64_t sb = d2u(s);
        if (likely(fexp(64, sb) != 0x7ff)) {
            double bb = s - x;
            double err = (x - (s - bb)) + (y - bb);
            if (err == 0) {
                if (rm == FPU_RDN && s == 0 && ((a ^ b) >> 63)) sb = FMT_SIGN(64);
                return sb;
            }
            return adjust64(sb, (d2u(err) >> 63) == (sb >> 63), err, rm, fl);
        }
    }
    return add_slow64(a, b, rm, fl);
}

uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    return f64_add(a, b ^ FMT_SIGN(64), rm, fl);
}

uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    unsigned ea = fexp(64, a), eb = fexp(64, b);
    /* ea + eb >= 1076: the product's error term is representable and a
     * nonzero product is >= 2^-1021 in magnitude. */
    if (likely(ea < 0x7ff && eb < 0x7ff && ea + eb >= 1076)) {
        double x = u2d(a), y = u2d(b);
        double s = x * y;
        uint64_t sb = d2u(s);
        if (likely(fexp(64, sb) != 0x7ff)) {
            double err = fma(x, y, -s);
            if (err == 0) return sb;
            return adjust64(sb, (d2u(err) >> 63) == (sb >> 63), err, rm, fl);
        }
    }
    return mul_slow64(a, b, rm, fl);
}

uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    unsigned ea = fexp(64, a), eb = fexp(64, b);
    if (likely(ea - 1 < 0x7fe && eb - 1 < 0x7fe)) {
        double x = u2d(a), y = u2d(b);
        double q = x / y;
        uint64_t qb = d2u(q);
        unsigned eq = fexp(64, qb);
        /* eq + eb >= 1076: the remainder x - q*y is representable. */
        if (likely(eq >= 2 && eq < 0x7ff && eq + eb >= 1076)) {
            double r = fma(-q, y, x);
            if (r == 0) return qb;
            /* x/y - q = r/y; never a tie */
            return adjust64(qb, ((d2u(r) ^ b) >> 63) == (qb >> 63), 0.0, rm, fl);
        }
    }
    return div_slow64(a, b, rm, fl);
}

uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *fl)
{
    /* a positive normal >= 2^-970: the remainder a - s*s is representable */
    if (likely(a - ((uint64_t)53 << 52) < ((uint64_t)(0x7ff - 53) << 52))) {
        double x = u2d(a);
        double s = __builtin_sqrt(x);
        double r = fma(-s, s, x);
        if (r == 0) return d2u(s);
        return adjust64(d2u(s), r > 0, 0.0, rm, fl);
    }
    return sqrt_slow64(a, rm, fl);
}

SLOW uint64_t fma_slow64(uint64_t a, uint64_t b, uint64_t c, int np, int na, int rm, uint32_t *fl)
{
    return soft_fma(64, a, b, c, np, na, rm, fl);
}

uint64_t f64_fma(uint64_t a, uint64_t b, uint64_t c, int neg_prod, int neg_add, int rm,
                 uint32_t *fl)
{
    unsigned ea = fexp(64, a), eb = fexp(64, b), ec = fexp(64, c);
    /* Fast path: a, b normal with 2^-916 <= |a*b| < 2^1021, c zero or
     * 2^-916 <= |c| < 2^1022. Every exact intermediate below is then a
     * multiple of 2^-1020 (so nothing is lost to underflow) and nothing
     * overflows; the error of the host fma is computed exactly with
     * ErrFma (Boldo & Muller, IEEE TC 2011):
     *   x = a*b + c = s + r2 + r3,  |r2 + r3| <= ulp(s)/2,  |r3| <= ulp(r2)/2. */
    if (likely(ea - 1 < 0x7fe && eb - 1 < 0x7fe && ea + eb - 1130 <= 3065 - 1130 &&
               (ec - 107 <= 0x7fc - 107 || (c << 1) == 0))) {
        double x = u2d(a), y = u2d(b), z = u2d(c);
        if (neg_prod) x = -x;
        if (neg_add) z = -z;
        double s = fma(x, y, z);
        uint64_t sb = d2u(s);
        unsigned es = fexp(64, sb);
        if (likely(es - 107 <= 0x7fd - 107)) {
            double u1 = x * y, u2 = fma(x, y, -u1);
            double a1 = z + u2, t = a1 - z, a2 = (z - (a1 - t)) + (u2 - t);    /* 2Sum */
            double b1 = u1 + a1, v = b1 - u1, b2 = (u1 - (b1 - v)) + (a1 - v); /* 2Sum */
            double g = (b1 - s) + b2;
            double r2 = g + a2, r3 = a2 - (r2 - g); /* Fast2Sum */
            if (r2 == 0) return sb;
            double err = r3 == 0 ? r2 : 0.0; /* a tie needs r3 == 0 */
            return adjust64(sb, (d2u(r2) >> 63) == (sb >> 63), err, rm, fl);
        }
    }
    return fma_slow64(a, b, c, neg_prod, neg_add, rm, fl);
}

uint64_t f64_min(uint64_t a, uint64_t b, uint32_t *fl)
{
    return fminmax(64, a, b, 0, fl);
}
uint64_t f64_max(uint64_t a, uint64_t b, uint32_t *fl)
{
    return fminmax(64, a, b, 1, fl);
}
int f64_eq(uint64_t a, uint64_t b, uint32_t *fl)
{
    return feq(64, a, b, fl);
}
int f64_lt(uint64_t a, uint64_t b, uint32_t *fl)
{
    return flt(64, a, b, fl);
}
int f64_le(uint64_t a, uint64_t b, uint32_t *fl)
{
    return fle(64, a, b, fl);
}
unsigned f64_class(uint64_t a)
{
    return fclass(64, a);
}

int32_t f64_to_i32(uint64_t a, int rm, uint32_t *fl)
{
    return (int32_t)(uint32_t)f_to_int(64, a, rm, fl, 1, 32);
}
uint32_t f64_to_u32(uint64_t a, int rm, uint32_t *fl)
{
    return (uint32_t)f_to_int(64, a, rm, fl, 0, 32);
}
int64_t f64_to_i64(uint64_t a, int rm, uint32_t *fl)
{
    return (int64_t)f_to_int(64, a, rm, fl, 1, 64);
}
uint64_t f64_to_u64(uint64_t a, int rm, uint32_t *fl)
{
    return f_to_int(64, a, rm, fl, 0, 64);
}

uint64_t i32_to_f64(int32_t v, int rm, uint32_t *fl)
{
    (void)rm, (void)fl;
    return d2u((double)v); /* exact */
}
uint64_t u32_to_f64(uint32_t v, int rm, uint32_t *fl)
{
    (void)rm, (void)fl;
    return d2u((double)v); /* exact */
}
uint64_t i64_to_f64(int64_t v, int rm, uint32_t *fl)
{
    return int_to_f(64, v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, rm, fl);
}
uint64_t u64_to_f64(uint64_t v, int rm, uint32_t *fl)
{
    return int_to_f(64, 0, v, rm, fl);
}

uint32_t f64_to_f32(uint64_t a, int rm, uint32_t *fl)
{
    unsigned e = fexp(64, a);
    if (likely(e - 1 < 0x7fe)) return dd_to_f32(u2d(a), 0.0, rm, fl);
    return (uint32_t)f64_to_f32_slow(a, rm, fl);
}

uint64_t f32_to_f64(uint32_t a, uint32_t *fl)
{
    if (unlikely(is_nan(32, a))) return nan2(64, is_snan(32, a) ? 0x7ff0000000000001ull : 0, 0, fl);
    return d2u(f2d(a)); /* exact */
}

/* ------------------------------------------------------------------------ */
/* binary32 public operations                                               */

uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *fl)
{
    if (unlikely(fexp(32, a) == 0xff || fexp(32, b) == 0xff))
        return (uint32_t)add_slow32(a, b, rm, fl);
    double x = f2d(a), y = f2d(b);
    double d = x + y;
    if (unlikely(d == 0)) { /* exact: binary32 sums never underflow in binary64 */
        if (rm == FPU_RDN && ((a ^ b) >> 31)) return 0x80000000u;
        return (uint32_t)(d2u(d) >> 32);
    }
    double bb = d - x;
    double e = (x - (d - bb)) + (y - bb);
    return dd_to_f32(d, e, rm, fl);
}

uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *fl)
{
    return f32_add(a, b ^ 0x80000000u, rm, fl);
}

uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *fl)
{
    if (unlikely(fexp(32, a) == 0xff || fexp(32, b) == 0xff))
        return (uint32_t)mul_slow32(a, b, rm, fl);
    double d = f2d(a) * f2d(b); /* exact */
    if (unlikely(d == 0)) return (a ^ b) & 0x80000000u;
    return dd_to_f32(d, 0.0, rm, fl);
}

uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *fl)
{
    if (unlikely(fexp(32, a) == 0xff || fexp(32, b) == 0xff || fmag(32, a) == 0 ||
                 fmag(32, b) == 0))
        return (uint32_t)div_slow32(a, b, rm, fl);
    return dd_to_f32(f2d(a) / f2d(b), 0.0, rm, fl);
}

uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *fl)
{
    if (unlikely(a - 1 >= 0x7f7fffffu)) /* zero, negative, inf or NaN */
        return (uint32_t)sqrt_slow32(a, rm, fl);
    return dd_to_f32(__builtin_sqrt(f2d(a)), 0.0, rm, fl);
}

uint32_t f32_fma(uint32_t a, uint32_t b, uint32_t c, int neg_prod, int neg_add, int rm,
                 uint32_t *fl)
{
    if (unlikely(fexp(32, a) == 0xff || fexp(32, b) == 0xff || fexp(32, c) == 0xff))
        return (uint32_t)fma_slow32(a, b, c, neg_prod, neg_add, rm, fl);
    double p = f2d(a) * f2d(b); /* exact */
    double z = f2d(c);
    if (neg_prod) p = -p;
    if (neg_add) z = -z;
    double d = p + z;
    if (unlikely(d == 0)) { /* exact zero */
        if (p == 0 && z == 0 && signbit(p) == signbit(z)) return signbit(p) ? 0x80000000u : 0;
        return rm == FPU_RDN ? 0x80000000u : 0;
    }
    double bb = d - p;
    double e = (p - (d - bb)) + (z - bb);
    return dd_to_f32(d, e, rm, fl);
}

uint32_t f32_min(uint32_t a, uint32_t b, uint32_t *fl)
{
    return (uint32_t)fminmax(32, a, b, 0, fl);
}
uint32_t f32_max(uint32_t a, uint32_t b, uint32_t *fl)
{
    return (uint32_t)fminmax(32, a, b, 1, fl);
}
int f32_eq(uint32_t a, uint32_t b, uint32_t *fl)
{
    return feq(32, a, b, fl);
}
int f32_lt(uint32_t a, uint32_t b, uint32_t *fl)
{
    return flt(32, a, b, fl);
}
int f32_le(uint32_t a, uint32_t b, uint32_t *fl)
{
    return fle(32, a, b, fl);
}
unsigned f32_class(uint32_t a)
{
    return fclass(32, a);
}

int32_t f32_to_i32(uint32_t a, int rm, uint32_t *fl)
{
    return (int32_t)(uint32_t)f_to_int(32, a, rm, fl, 1, 32);
}
uint32_t f32_to_u32(uint32_t a, int rm, uint32_t *fl)
{
    return (uint32_t)f_to_int(32, a, rm, fl, 0, 32);
}
int64_t f32_to_i64(uint32_t a, int rm, uint32_t *fl)
{
    return (int64_t)f_to_int(32, a, rm, fl, 1, 64);
}
uint64_t f32_to_u64(uint32_t a, int rm, uint32_t *fl)
{
    return f_to_int(32, a, rm, fl, 0, 64);
}

uint32_t i32_to_f32(int32_t v, int rm, uint32_t *fl)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)(int64_t)v : (uint64_t)v;
    return (uint32_t)int_to_f(32, v < 0, m, rm, fl);
}
uint32_t u32_to_f32(uint32_t v, int rm, uint32_t *fl)
{
    return (uint32_t)int_to_f(32, 0, v, rm, fl);
}
uint32_t i64_to_f32(int64_t v, int rm, uint32_t *fl)
{
    return (uint32_t)int_to_f(32, v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, rm, fl);
}
uint32_t u64_to_f32(uint64_t v, int rm, uint32_t *fl)
{
    return (uint32_t)int_to_f(32, 0, v, rm, fl);
}

/* ------------------------------------------------------------------------ */
/* Test hook: the exact software path alone.                                */

uint64_t fpu_soft(int w, int op, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl)
{
    if (op == FPU_OP_CVT_S_D) return f64_to_f32_slow(a, rm, fl); /* a is binary64 */
    if (w == 32) {
        a &= 0xffffffffu;
        b &= 0xffffffffu;
        c &= 0xffffffffu;
        switch (op) {
        case FPU_OP_ADD: return soft_add(32, a, b, rm, fl);
        case FPU_OP_SUB: return soft_add(32, a, b ^ FMT_SIGN(32), rm, fl);
        case FPU_OP_MUL: return soft_mul(32, a, b, rm, fl);
        case FPU_OP_DIV: return soft_div(32, a, b, rm, fl);
        case FPU_OP_SQRT: return soft_sqrt(32, a, rm, fl);
        case FPU_OP_FMADD: return soft_fma(32, a, b, c, 0, 0, rm, fl);
        case FPU_OP_FMSUB: return soft_fma(32, a, b, c, 0, 1, rm, fl);
        case FPU_OP_FNMSUB: return soft_fma(32, a, b, c, 1, 0, rm, fl);
        case FPU_OP_FNMADD: return soft_fma(32, a, b, c, 1, 1, rm, fl);
        default: return 0;
        }
    }
    switch (op) {
    case FPU_OP_ADD: return soft_add(64, a, b, rm, fl);
    case FPU_OP_SUB: return soft_add(64, a, b ^ FMT_SIGN(64), rm, fl);
    case FPU_OP_MUL: return soft_mul(64, a, b, rm, fl);
    case FPU_OP_DIV: return soft_div(64, a, b, rm, fl);
    case FPU_OP_SQRT: return soft_sqrt(64, a, rm, fl);
    case FPU_OP_FMADD: return soft_fma(64, a, b, c, 0, 0, rm, fl);
    case FPU_OP_FMSUB: return soft_fma(64, a, b, c, 0, 1, rm, fl);
    case FPU_OP_FNMSUB: return soft_fma(64, a, b, c, 1, 0, rm, fl);
    case FPU_OP_FNMADD: return soft_fma(64, a, b, c, 1, 1, rm, fl);
    default: return 0;
    }
}
