/* F extension: arithmetic with static and dynamic rounding modes, exception
 * flags, FMA variants, sign injection, min/max, compares, fclass, all
 * conversions, moves, loads/stores, NaN-boxing, fflags/frm/fcsr, invalid
 * rounding modes and mstatus.FS (Off traps, Dirty tracking, SD). Expected
 * values are those of QEMU (the reference). */
#include "fp_common.h"

#define ONE 0x3f800000u
#define TWO 0x40000000u
#define THREE 0x40400000u
#define HALF 0x3f000000u
#define MAXF 0x7f7fffffu
#define INF 0x7f800000u
#define QNAN 0x7fc00000u
#define QNANP 0x7fc12345u
#define SNAN 0x7f800001u
#define MINN 0x00800000u
#define NEG 0x80000000u
#define EPS24 0x33800000u /* 2^-24: half an ulp of 1 */

static void arith(void)
{
    TS("fadd.s ft3, ft0, ft1", ONE, TWO, 0, THREE, 0);
    TS("fadd.s ft3, ft0, ft1, rne", ONE, EPS24, 0, ONE, FP_NX);
    TS("fadd.s ft3, ft0, ft1, rmm", ONE, EPS24, 0, 0x3f800001u, FP_NX);
    TS("fadd.s ft3, ft0, ft1, rup", ONE, EPS24, 0, 0x3f800001u, FP_NX);
    TS("fadd.s ft3, ft0, ft1, rtz", ONE, EPS24, 0, ONE, FP_NX);
    TS("fadd.s ft3, ft0, ft1, rdn", ONE | NEG, EPS24 | NEG, 0, 0xbf800001u, FP_NX);
    TS("fadd.s ft3, ft0, ft1, rup", ONE | NEG, EPS24 | NEG, 0, 0xbf800000u, FP_NX);
    TS("fadd.s ft3, ft0, ft1, rmm", 0x3f800001u, EPS24, 0, 0x3f800002u, FP_NX);
    TS("fsub.s ft3, ft0, ft1, rne", ONE, ONE, 0, 0, 0);
    TS("fsub.s ft3, ft0, ft1, rdn", ONE, ONE, 0, NEG, 0);
    TS("fadd.s ft3, ft0, ft1, rne", MAXF, MAXF, 0, INF, FP_OF | FP_NX);
    TS("fadd.s ft3, ft0, ft1, rtz", MAXF, MAXF, 0, MAXF, FP_OF | FP_NX);
    TS("fadd.s ft3, ft0, ft1, rdn", MAXF, MAXF, 0, MAXF, FP_OF | FP_NX);
    TS("fadd.s ft3, ft0, ft1, rup", MAXF, MAXF, 0, INF, FP_OF | FP_NX);
    TS("fadd.s ft3, ft0, ft1, rmm", MAXF, MAXF, 0, INF, FP_OF | FP_NX);
    TS("fadd.s ft3, ft0, ft1, rup", MAXF | NEG, MAXF | NEG, 0, MAXF | NEG, FP_OF | FP_NX);
    TS("fadd.s ft3, ft0, ft1, rdn", MAXF | NEG, MAXF | NEG, 0, INF | NEG, FP_OF | FP_NX);
    TS("fadd.s ft3, ft0, ft1", INF, INF | NEG, 0, QNAN, FP_NV);
    TS("fadd.s ft3, ft0, ft1", QNANP, ONE, 0, QNAN, 0);
    TS("fadd.s ft3, ft0, ft1", ONE, SNAN, 0, QNAN, FP_NV);
    TS("fmul.s ft3, ft0, ft1", THREE, HALF, 0, 0x3fc00000u, 0);
    TS("fmul.s ft3, ft0, ft1", INF, 0, 0, QNAN, FP_NV);
    TS("fmul.s ft3, ft0, ft1, rne", 1, HALF, 0, 0, FP_UF | FP_NX);
    TS("fmul.s ft3, ft0, ft1, rmm", 1, HALF, 0, 1, FP_UF | FP_NX);
    TS("fmul.s ft3, ft0, ft1, rup", 1, HALF, 0, 1, FP_UF | FP_NX);
    TS("fmul.s ft3, ft0, ft1, rne", 2, HALF, 0, 1, 0);
    /* tininess after rounding: (1 - 2^-46) 2^-126 */
    TS("fmul.s ft3, ft0, ft1, rne", 0x3f7ffffeu, 0x00800001u, 0, MINN, FP_NX);
    TS("fmul.s ft3, ft0, ft1, rtz", 0x3f7ffffeu, 0x00800001u, 0, 0x007fffffu, FP_UF | FP_NX);
    TS("fmul.s ft3, ft0, ft1, rne", 0x3f7fffffu, MINN, 0, MINN, FP_UF | FP_NX);
    TS("fdiv.s ft3, ft0, ft1, rne", ONE, THREE, 0, 0x3eaaaaabu, FP_NX);
    TS("fdiv.s ft3, ft0, ft1, rtz", ONE, THREE, 0, 0x3eaaaaaau, FP_NX);
    TS("fdiv.s ft3, ft0, ft1, rdn", ONE | NEG, THREE, 0, 0xbeaaaaabu, FP_NX);
    TS("fdiv.s ft3, ft0, ft1", ONE, 0, 0, INF, FP_DZ);
    TS("fdiv.s ft3, ft0, ft1", ONE, NEG, 0, INF | NEG, FP_DZ);
    TS("fdiv.s ft3, ft0, ft1", 0, 0, 0, QNAN, FP_NV);
    TS("fdiv.s ft3, ft0, ft1", INF, INF, 0, QNAN, FP_NV);
    TS("fsqrt.s ft3, ft0", 0x40800000u, 0, 0, TWO, 0);
    TS("fsqrt.s ft3, ft0, rne", TWO, 0, 0, 0x3fb504f3u, FP_NX);
    TS("fsqrt.s ft3, ft0, rup", TWO, 0, 0, 0x3fb504f4u, FP_NX);
    TS("fsqrt.s ft3, ft0", NEG, 0, 0, NEG, 0);
    TS("fsqrt.s ft3, ft0", ONE | NEG, 0, 0, QNAN, FP_NV);
    TS("fsqrt.s ft3, ft0", INF, 0, 0, INF, 0);
    TS("fsqrt.s ft3, ft0", SNAN, 0, 0, QNAN, FP_NV);

    /* dynamic rounding mode from frm */
    set_frm(1);
    TS("fadd.s ft3, ft0, ft1", ONE, 0x33800001u, 0, ONE, FP_NX);
    TS("fdiv.s ft3, ft0, ft1", ONE, THREE, 0, 0x3eaaaaaau, FP_NX);
    set_frm(4);
    TS("fadd.s ft3, ft0, ft1", ONE, EPS24, 0, 0x3f800001u, FP_NX);
    TXS("fcvt.s.w ft3, %2", 16777217, 0x4b800001u, FP_NX);
    set_frm(3);
    TS("fadd.s ft3, ft0, ft1, dyn", ONE, 1, 0, 0x3f800001u, FP_NX);
    TS("fsqrt.s ft3, ft0", TWO, 0, 0, 0x3fb504f4u, FP_NX);
    TS("fadd.s ft3, ft0, ft1, rne", ONE, 1, 0, ONE, FP_NX); /* static overrides frm */
    set_frm(2);
    TS("fsub.s ft3, ft0, ft1", ONE, ONE, 0, NEG, 0);
    TS("fmul.s ft3, ft0, ft1", MAXF, TWO, 0, MAXF, FP_OF | FP_NX);
    set_frm(0);
    TS("fadd.s ft3, ft0, ft1", ONE, EPS24, 0, ONE, FP_NX);
}

static void fma(void)
{
    TS("fmadd.s ft3, ft0, ft1, ft2", ONE, TWO, THREE, 0x40a00000u, 0);
    TS("fmsub.s ft3, ft0, ft1, ft2", ONE, TWO, THREE, 0xbf800000u, 0);
    TS("fnmsub.s ft3, ft0, ft1, ft2", ONE, TWO, THREE, ONE, 0);
    TS("fnmadd.s ft3, ft0, ft1, ft2", ONE, TWO, THREE, 0xc0a00000u, 0);
    /* single rounding: (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 exactly */
    TS("fmsub.s ft3, ft0, ft1, ft2", 0x3f800001u, 0x3f7ffffeu, ONE, 0xa8800000u, 0);
    TS("fmadd.s ft3, ft0, ft1, ft2, rne", 0x3f800001u, 0x3f800001u, ONE | NEG, 0x34800000u, FP_NX);
    TS("fmadd.s ft3, ft0, ft1, ft2, rup", 0x3f800001u, 0x3f800001u, ONE | NEG, 0x34800001u, FP_NX);
    TS("fmadd.s ft3, ft0, ft1, ft2, rmm", ONE, EPS24, ONE, 0x3f800001u, FP_NX);
    TS("fmadd.s ft3, ft0, ft1, ft2, rne", ONE, EPS24, ONE, ONE, FP_NX);
    TS("fmadd.s ft3, ft0, ft1, ft2, rdn", ONE, ONE, ONE | NEG, NEG, 0);
    TS("fmadd.s ft3, ft0, ft1, ft2, rne", ONE, ONE, ONE | NEG, 0, 0);
    TS("fnmadd.s ft3, ft0, ft1, ft2", 0, ONE, 0, NEG, 0);
    TS("fnmsub.s ft3, ft0, ft1, ft2", 0, ONE, 0, 0, 0);
    TS("fmadd.s ft3, ft0, ft1, ft2", MAXF, TWO, MAXF | NEG, MAXF, 0);
    TS("fmadd.s ft3, ft0, ft1, ft2", INF, 0, QNAN, QNAN, FP_NV);
    TS("fmadd.s ft3, ft0, ft1, ft2", 0, INF, ONE, QNAN, FP_NV);
    TS("fmadd.s ft3, ft0, ft1, ft2", QNAN, 0, INF, QNAN, 0);
    TS("fmadd.s ft3, ft0, ft1, ft2", INF, ONE, INF | NEG, QNAN, FP_NV);
    TS("fnmadd.s ft3, ft0, ft1, ft2", INF, ONE, INF, INF | NEG, 0);
    TS("fmadd.s ft3, ft0, ft1, ft2", ONE, ONE, SNAN, QNAN, FP_NV);
    TS("fmadd.s ft3, ft0, ft1, ft2, rne", 1, HALF, 0, 0, FP_UF | FP_NX);
    set_frm(4);
    TS("fmadd.s ft3, ft0, ft1, ft2", ONE, EPS24, ONE, 0x3f800001u, FP_NX);
    set_frm(0);
}

static void misc(void)
{
    TS("fsgnj.s ft3, ft0, ft1", ONE, TWO | NEG, 0, ONE | NEG, 0);
    TS("fsgnjn.s ft3, ft0, ft1", ONE, TWO | NEG, 0, ONE, 0);
    TS("fsgnjn.s ft3, ft0, ft1", ONE, TWO, 0, ONE | NEG, 0);
    TS("fsgnjx.s ft3, ft0, ft1", ONE | NEG, TWO | NEG, 0, ONE, 0);
    TS("fsgnjx.s ft3, ft0, ft1", ONE | NEG, TWO, 0, ONE | NEG, 0);
    TS("fsgnj.s ft3, ft0, ft1", SNAN, NEG, 0, SNAN | NEG, 0); /* no canonicalization */
    TS("fmin.s ft3, ft0, ft1", ONE, TWO, 0, ONE, 0);
    TS("fmax.s ft3, ft0, ft1", ONE, TWO, 0, TWO, 0);
    TS("fmin.s ft3, ft0, ft1", NEG, 0, 0, NEG, 0);
    TS("fmin.s ft3, ft0, ft1", 0, NEG, 0, NEG, 0);
    TS("fmax.s ft3, ft0, ft1", NEG, 0, 0, 0, 0);
    TS("fmin.s ft3, ft0, ft1", QNANP, ONE, 0, ONE, 0);
    TS("fmax.s ft3, ft0, ft1", ONE, SNAN, 0, ONE, FP_NV);
    TS("fmin.s ft3, ft0, ft1", QNANP, QNAN, 0, QNAN, 0);
    TS("fmax.s ft3, ft0, ft1", SNAN, QNAN, 0, QNAN, FP_NV);
    TS("fmin.s ft3, ft0, ft1", INF | NEG, MAXF | NEG, 0, INF | NEG, 0);
    TSX("feq.s %0, ft0, ft1", ONE, ONE, 1, 0);
    TSX("feq.s %0, ft0, ft1", NEG, 0, 1, 0);
    TSX("feq.s %0, ft0, ft1", QNAN, QNAN, 0, 0);
    TSX("feq.s %0, ft0, ft1", SNAN, ONE, 0, FP_NV);
    TSX("flt.s %0, ft0, ft1", ONE, TWO, 1, 0);
    TSX("flt.s %0, ft0, ft1", TWO, ONE, 0, 0);
    TSX("flt.s %0, ft0, ft1", NEG, 0, 0, 0);
    TSX("flt.s %0, ft0, ft1", QNAN, ONE, 0, FP_NV);
    TSX("fle.s %0, ft0, ft1", NEG, 0, 1, 0);
    TSX("fle.s %0, ft0, ft1", TWO, ONE, 0, 0);
    TSX("fle.s %0, ft0, ft1", ONE, QNANP, 0, FP_NV);
    TSX("fclass.s %0, ft0", INF | NEG, 0, 1 << 0, 0);
    TSX("fclass.s %0, ft0", ONE | NEG, 0, 1 << 1, 0);
    TSX("fclass.s %0, ft0", 0x807fffffu, 0, 1 << 2, 0);
    TSX("fclass.s %0, ft0", NEG, 0, 1 << 3, 0);
    TSX("fclass.s %0, ft0", 0, 0, 1 << 4, 0);
    TSX("fclass.s %0, ft0", 1, 0, 1 << 5, 0);
    TSX("fclass.s %0, ft0", MAXF, 0, 1 << 6, 0);
    TSX("fclass.s %0, ft0", INF, 0, 1 << 7, 0);
    TSX("fclass.s %0, ft0", SNAN, 0, 1 << 8, 0);
    TSX("fclass.s %0, ft0", QNANP | NEG, 0, 1 << 9, 0);
}

static void cvt(void)
{
    TSX("fcvt.w.s %0, ft0, rne", 0x40200000u, 0, 2, FP_NX); /* 2.5 */
    TSX("fcvt.w.s %0, ft0, rmm", 0x40200000u, 0, 3, FP_NX);
    TSX("fcvt.w.s %0, ft0, rup", 0x40200000u, 0, 3, FP_NX);
    TSX("fcvt.w.s %0, ft0, rdn", 0x40200000u, 0, 2, FP_NX);
    TSX("fcvt.w.s %0, ft0, rtz", 0x40200000u, 0, 2, FP_NX);
    TSX("fcvt.w.s %0, ft0, rmm", 0xc0200000u, 0, -3ull, FP_NX);
    TSX("fcvt.w.s %0, ft0, rdn", 0xc0200000u, 0, -3ull, FP_NX);
    TSX("fcvt.w.s %0, ft0, rtz", 0xc0200000u, 0, -2ull, FP_NX);
    TSX("fcvt.w.s %0, ft0, rtz", QNAN, 0, 0x7fffffff, FP_NV);
    TSX("fcvt.w.s %0, ft0, rtz", INF, 0, 0x7fffffff, FP_NV);
    TSX("fcvt.w.s %0, ft0, rtz", INF | NEG, 0, 0xffffffff80000000ull, FP_NV);
    TSX("fcvt.w.s %0, ft0, rtz", 0x4f000000u, 0, 0x7fffffff, FP_NV);
    TSX("fcvt.w.s %0, ft0, rtz", 0xcf000000u, 0, 0xffffffff80000000ull, 0);
    TSX("fcvt.wu.s %0, ft0, rtz", 0xbe99999au, 0, 0, FP_NX); /* -0.3 */
    TSX("fcvt.wu.s %0, ft0, rdn", 0xbe99999au, 0, 0, FP_NV);
    TSX("fcvt.wu.s %0, ft0, rtz", ONE | NEG, 0, 0, FP_NV);
    TSX("fcvt.wu.s %0, ft0, rtz", 0x4f32d05eu, 0, 0xffffffffb2d05e00ull, 0); /* 3e9 */
    TSX("fcvt.wu.s %0, ft0, rtz", QNAN, 0, 0xffffffffffffffffull, FP_NV);
    TSX("fcvt.wu.s %0, ft0, rtz", 0x4f800000u, 0, 0xffffffffffffffffull, FP_NV);
    TSX("fcvt.l.s %0, ft0, rtz", 0x5f000000u, 0, 0x7fffffffffffffffull, FP_NV);
    TSX("fcvt.l.s %0, ft0, rtz", 0xdf000000u, 0, 0x8000000000000000ull, 0);
    TSX("fcvt.l.s %0, ft0, rtz", 0x501502f9u, 0, 10000000000ull, 0);
    TSX("fcvt.l.s %0, ft0, rtz", SNAN, 0, 0x7fffffffffffffffull, FP_NV);
    TSX("fcvt.lu.s %0, ft0, rtz", INF | NEG, 0, 0, FP_NV);
    TSX("fcvt.lu.s %0, ft0, rtz", 0x5f800000u, 0, ~0ull, FP_NV);
    TSX("fcvt.lu.s %0, ft0, rne", 0x3fc00000u, 0, 2, FP_NX);
    TSX("fcvt.lu.s %0, ft0, rne", 0xbf000000u, 0, 0, FP_NX); /* -0.5 -> -0 */
    TSX("fcvt.lu.s %0, ft0, rmm", 0xbf000000u, 0, 0, FP_NV);
    set_frm(3);
    TSX("fcvt.w.s %0, ft0", 0x3f800001u, 0, 2, FP_NX);
    TSX("fcvt.w.s %0, ft0, dyn", 0xbf800001u, 0, -1ull, FP_NX);
    set_frm(0);
    TXS("fcvt.s.w ft3, %2, rne", 16777217, 0x4b800000u, FP_NX);
    TXS("fcvt.s.w ft3, %2, rmm", 16777217, 0x4b800001u, FP_NX);
    TXS("fcvt.s.w ft3, %2, rdn", -16777217ll, 0xcb800001u, FP_NX);
    TXS("fcvt.s.w ft3, %2", 0x1234567880000000ull, 0xcf000000u, 0); /* low 32 bits */
    TXS("fcvt.s.w ft3, %2", 0, 0, 0);
    TXS("fcvt.s.wu ft3, %2, rne", 0x12345678ffffffffull, 0x4f800000u, FP_NX);
    TXS("fcvt.s.wu ft3, %2, rtz", 0xffffffffull, 0x4f7fffffu, FP_NX);
    TXS("fcvt.s.l ft3, %2", -1ll, 0xbf800000u, 0);
    TXS("fcvt.s.l ft3, %2", 0x8000000000000000ull, 0xdf000000u, 0);
    TXS("fcvt.s.l ft3, %2, rtz", 0x7fffffffffffffffull, 0x5effffffu, FP_NX);
    TXS("fcvt.s.lu ft3, %2, rne", ~0ull, 0x5f800000u, FP_NX);
    TXS("fcvt.s.lu ft3, %2, rtz", ~0ull, 0x5f7fffffu, FP_NX);
    TXS("fcvt.s.lu ft3, %2, rmm", 0x8000008000000000ull, 0x5f000001u, FP_NX);
    TXS("fcvt.s.lu ft3, %2, rne", 0x8000008000000000ull, 0x5f000000u, FP_NX);
    /* fcvt.s.d / fcvt.d.s */
    TXS("fmv.d.x ft0, %2\n\tfcvt.s.d ft3, ft0, rne", 0x3ff0000010000000ull, ONE, FP_NX);
    TXS("fmv.d.x ft0, %2\n\tfcvt.s.d ft3, ft0, rmm", 0x3ff0000010000000ull, 0x3f800001u, FP_NX);
    TXS("fmv.d.x ft0, %2\n\tfcvt.s.d ft3, ft0, rne", 0x7e37e43c8800759cull, INF, FP_OF | FP_NX);
    TXS("fmv.d.x ft0, %2\n\tfcvt.s.d ft3, ft0, rtz", 0x7e37e43c8800759cull, MAXF, FP_OF | FP_NX);
    TXS("fmv.d.x ft0, %2\n\tfcvt.s.d ft3, ft0, rup", 1, 1, FP_UF | FP_NX);
    TXS("fmv.d.x ft0, %2\n\tfcvt.s.d ft3, ft0", 0x7ff0000000000001ull, QNAN, FP_NV);
    TXS("fmv.d.x ft0, %2\n\tfcvt.s.d ft3, ft0", 0xfff8000000012345ull, QNAN, 0);
    TXD("fmv.w.x ft0, %2\n\tfcvt.d.s ft3, ft0", ONE | NEG, 0xbff0000000000000ull, 0);
    TXD("fmv.w.x ft0, %2\n\tfcvt.d.s ft3, ft0", 1, 0x36a0000000000000ull, 0);
    TXD("fmv.w.x ft0, %2\n\tfcvt.d.s ft3, ft0", SNAN, 0x7ff8000000000000ull, FP_NV);
    TXD("fmv.w.x ft0, %2\n\tfcvt.d.s ft3, ft0", QNANP | NEG, 0x7ff8000000000000ull, 0);
    TXD("fmv.w.x ft0, %2\n\tfcvt.d.s ft3, ft0", INF | NEG, 0xfff0000000000000ull, 0);
}

static volatile u32 mem32[4] = {0x40490fdbu, 0, 0xbf800000u, 0};

static void moves_and_boxing(void)
{
    u64 r;
    /* fmv.w.x NaN-boxes (upper source bits ignored); fmv.x.w sign-extends */
    TXD("fmv.w.x ft3, %2", 0x12345678bf800000ull, 0xffffffffbf800000ull, 0);
    TSX("fmv.x.w %0, ft0", 0x80000000u, 0, 0xffffffff80000000ull, 0);
    TSX("fmv.x.w %0, ft0", SNAN, 0, SNAN, 0);
    /* flw boxes, fsw stores the low 32 bits */
    __asm__ volatile("flw ft0, 0(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(&mem32[0]) : CLOB);
    CHECK("flw boxes", r, 0xffffffff40490fdbull);
    __asm__ volatile("flw ft0, 8(%0)\n\tfsw ft0, 4(%0)" ::"r"(&mem32[0]) : CLOB);
    CHECK("fsw", mem32[1], 0xbf800000u);
    CHECK("fsw no overrun", mem32[3], 0);
    /* arithmetic results are boxed */
    TD("fadd.s ft3, ft0, ft1", 0xffffffff3f800000ull, 0xffffffff3f800000ull, 0,
       0xffffffff40000000ull, 0);
    /* an improperly boxed input is the canonical NaN */
    TD("fadd.s ft3, ft0, ft1", 0x000000003f800000ull, 0xffffffff3f800000ull, 0,
       0xffffffff7fc00000ull, 0);
    TD("fadd.s ft3, ft0, ft1", 0xfffffffe3f800000ull, 0xffffffff3f800000ull, 0,
       0xffffffff7fc00000ull, 0);
    TD("fmul.s ft3, ft0, ft1", 0xffffffff3f800000ull, 0x7fffffff3f800000ull, 0,
       0xffffffff7fc00000ull, 0);
    TD("fsgnj.s ft3, ft0, ft1", 0x000000003f800000ull, 0xffffffffbf800000ull, 0,
       0xffffffffffc00000ull, 0);
    TD("fsgnj.s ft3, ft0, ft1", 0xffffffff3f800000ull, 0x00000000bf800000ull, 0,
       0xffffffff3f800000ull, 0);
    TD("fmin.s ft3, ft0, ft1", 0x000000003f800000ull, 0xffffffff40000000ull, 0,
       0xffffffff40000000ull, 0);
    TD("fmadd.s ft3, ft0, ft1, ft2", 0xffffffff3f800000ull, 0xffffffff3f800000ull,
       0x3f800000ull, 0xffffffff7fc00000ull, 0);
    TD("fcvt.d.s ft3, ft0", 0x000000003f800000ull, 0, 0, 0x7ff8000000000000ull, 0);
    TDX("fclass.s %0, ft0", 0x000000003f800000ull, 0, 1 << 9, 0);
    TDX("feq.s %0, ft0, ft1", 0x000000003f800000ull, 0x000000003f800000ull, 0, 0);
    TDX("flt.s %0, ft0, ft1", 0x000000003f800000ull, 0xffffffff3f800000ull, 0, FP_NV);
    TDX("fcvt.w.s %0, ft0, rtz", 0x000000003f800000ull, 0, 0x7fffffff, FP_NV);
    /* fmv.x.w and fsw move the raw low bits, boxed or not */
    TDX("fmv.x.w %0, ft0", 0x000000003f800000ull, 0, 0x3f800000, 0);
    TDX("fmv.x.w %0, ft0", 0x12345678bf800000ull, 0, 0xffffffffbf800000ull, 0);
    __asm__ volatile("fmv.d.x ft0, %1\n\tfsw ft0, 12(%0)" ::"r"(&mem32[0]),
                     "r"(0x00000000c0000000ull)
                     : CLOB);
    CHECK("fsw unboxed", mem32[3], 0xc0000000u);
}

static void csrs(void)
{
    u64 r;
    csr_write(fcsr, 0xff);
    CHECK("fcsr", csr_read(fcsr), 0xff);
    CHECK("fflags", csr_read(fflags), 0x1f);
    CHECK("frm", csr_read(frm), 7);
    csr_write(fcsr, 0x3a5);
    CHECK("fcsr upper bits", csr_read(fcsr), 0xa5);
    CHECK("frm from fcsr", csr_read(frm), 5);
    csr_write(fflags, 0xe3);
    CHECK("fflags masked", csr_read(fflags), 0x03);
    CHECK("fcsr after fflags", csr_read(fcsr), 0xa3);
    csr_write(frm, 0xfa);
    CHECK("frm masked", csr_read(frm), 2);
    CHECK("fcsr after frm", csr_read(fcsr), 0x43);
    __asm__ volatile("fsrmi %0, 1" : "=r"(r));
    CHECK("fsrmi old", r, 2);
    __asm__ volatile("fsflagsi %0, 0x10" : "=r"(r));
    CHECK("fsflagsi old", r, 3);
    CHECK("fcsr now", csr_read(fcsr), 0x30);
    __asm__ volatile("frcsr %0" : "=r"(r));
    CHECK("frcsr", r, 0x30);
    __asm__ volatile("fscsr %0, %1" : "=r"(r) : "r"(0x0ull));
    CHECK("fscsr old", r, 0x30);
    /* flags accrue */
    __asm__ volatile("fmv.w.x ft0, %0\n\tfmv.w.x ft1, %1\n\tfdiv.s ft2, ft0, ft1\n\t"
                     "fmv.w.x ft1, %2\n\tfdiv.s ft2, ft0, ft1" ::"r"((u64)ONE),
                     "r"((u64)0), "r"((u64)THREE)
                     : CLOB);
    CHECK("accrued", csr_read(fflags), FP_DZ | FP_NX);
    /* an operation without exceptions leaves them */
    __asm__ volatile("fadd.s ft2, ft0, ft0" ::: CLOB);
    CHECK("accrued kept", csr_read(fflags), FP_DZ | FP_NX);
    csr_write(fcsr, 0);
}

static void bad_rm(void)
{
    /* static rm 5 and 6 are reserved */
    T_ILLEGAL("fadd.s rm=5", ".insn r 0x53, 5, 0x00, ft3, ft0, ft1");
    T_ILLEGAL("fadd.s rm=6", ".insn r 0x53, 6, 0x00, ft3, ft0, ft1");
    T_ILLEGAL("fmul.s rm=5", ".insn r 0x53, 5, 0x08, ft3, ft0, ft1");
    T_ILLEGAL("fsqrt.s rm=6", ".insn r 0x53, 6, 0x2c, ft3, ft0, f0");
    T_ILLEGAL("fcvt.w.s rm=5", ".insn r 0x53, 5, 0x60, a0, ft0, x0");
    T_ILLEGAL("fcvt.s.w rm=6", ".insn r 0x53, 6, 0x68, ft3, a0, x0");
    T_ILLEGAL("fmadd.s rm=5", ".insn r4 0x43, 5, 0, ft3, ft0, ft1, ft2");
    T_ILLEGAL("fnmadd.s rm=6", ".insn r4 0x4f, 6, 0, ft3, ft0, ft1, ft2");
    T_LEGAL("fadd.s rm=4", ".insn r 0x53, 4, 0x00, ft3, ft0, ft1");
    /* dynamic rm with frm = 5..7 */
    for (u64 m = 5; m <= 7; m++) {
        set_frm(m);
        T_ILLEGAL("fadd.s dyn bad frm", "fadd.s ft3, ft0, ft1, dyn");
        T_ILLEGAL("fdiv.s dyn bad frm", "fdiv.s ft3, ft0, ft1");
        T_ILLEGAL("fmadd.s dyn bad frm", "fmadd.s ft3, ft0, ft1, ft2");
        T_ILLEGAL("fcvt.w.s dyn bad frm", "fcvt.w.s a0, ft0, dyn");
        T_ILLEGAL("fcvt.s.l dyn bad frm", "fcvt.s.l ft3, a0");
        /* instructions without a rounding mode are unaffected */
        T_LEGAL("fsgnj.s bad frm", "fsgnj.s ft3, ft0, ft1");
        T_LEGAL("fmin.s bad frm", "fmin.s ft3, ft0, ft1");
        T_LEGAL("feq.s bad frm", "feq.s a0, ft0, ft1");
        T_LEGAL("fclass.s bad frm", "fclass.s a0, ft0");
        T_LEGAL("fmv.x.w bad frm", "fmv.x.w a0, ft0");
        T_LEGAL("fmv.w.x bad frm", "fmv.w.x ft3, zero");
        T_LEGAL("fadd.s rne bad frm", "fadd.s ft3, ft0, ft1, rne");
        CHECK("frm kept", csr_read(frm), m);
    }
    set_frm(0);
}

static volatile u64 scratch[2];

static void fs_state(void)
{
    u64 st;
    set_fs(0);
    CHECK("FS off", get_fs(), 0);
    CHECK("SD off", csr_read(mstatus) >> 63, 0);
    T_ILLEGAL("fadd.s FS=0", "fadd.s ft3, ft0, ft1");
    T_ILLEGAL("fmadd.s FS=0", "fmadd.s ft3, ft0, ft1, ft2");
    T_ILLEGAL("fsgnj.s FS=0", "fsgnj.s ft3, ft0, ft1");
    T_ILLEGAL("fmv.w.x FS=0", "fmv.w.x ft3, zero");
    T_ILLEGAL("fmv.x.w FS=0", "fmv.x.w a0, ft0");
    T_ILLEGAL("fclass.s FS=0", "fclass.s a0, ft0");
    T_ILLEGAL("feq.s FS=0", "feq.s a0, ft0, ft1");
    T_ILLEGAL("fcvt.s.w FS=0", "fcvt.s.w ft3, zero");
    T_ILLEGAL("fcvt.d.s FS=0", "fcvt.d.s ft3, ft0");
    T_ILLEGAL("flw FS=0", "flw ft3, 0(sp)");
    T_ILLEGAL("fsw FS=0", "fsw ft3, 0(sp)");
    T_ILLEGAL("fld FS=0", "fld ft3, 0(sp)");
    T_ILLEGAL("csrr fflags FS=0", "csrr a0, fflags");
    T_ILLEGAL("csrw frm FS=0", "csrw frm, zero");
    T_ILLEGAL("csrr fcsr FS=0", "csrr a0, fcsr");
    CHECK("FS still off", get_fs(), 0);

    /* Initial: clean state, SD clear; an FP register write makes it Dirty */
    set_fs(1);
    CHECK("SD initial", csr_read(mstatus) >> 63, 0);
    __asm__ volatile("fadd.s ft3, ft0, ft1" ::: CLOB);
    CHECK("FS dirty after fadd", get_fs(), 3);
    st = csr_read(mstatus);
    CHECK("mstatus.SD", st >> 63, 1);
    st = csr_read(sstatus);
    CHECK("sstatus.SD", st >> 63, 1);
    CHECK("sstatus.FS", (st & MSTATUS_FS) >> MSTATUS_FS_SHIFT, 3);

    set_fs(2); /* Clean */
    CHECK("SD clean", csr_read(mstatus) >> 63, 0);
    csr_write(fflags, 0);
    CHECK("FS dirty after fflags write", get_fs(), 3);
    set_fs(2);
    csr_write(frm, 0);
    CHECK("FS dirty after frm write", get_fs(), 3);
    set_fs(2);
    __asm__ volatile("fmv.w.x ft3, zero" ::: CLOB);
    CHECK("FS dirty after fmv.w.x", get_fs(), 3);
    set_fs(2);
    __asm__ volatile("flw ft3, 0(%0)" ::"r"(&scratch[0]) : CLOB);
    CHECK("FS dirty after flw", get_fs(), 3);
    set_fs(2);
    __asm__ volatile("fcvt.s.w ft3, zero" ::: CLOB);
    CHECK("FS dirty after fcvt.s.w", get_fs(), 3);
    /* sstatus.FS is the same field */
    csr_clear(sstatus, MSTATUS_FS);
    CHECK("FS off via sstatus", get_fs(), 0);
    T_ILLEGAL("fadd.s sstatus.FS=0", "fadd.s ft3, ft0, ft1");
    csr_set(sstatus, 1ull << MSTATUS_FS_SHIFT);
    CHECK("FS initial via sstatus", get_fs(), 1);
    csr_write(fcsr, 0);
}

int main(void)
{
    test_name = "fp_single";
    arith();
    fma();
    misc();
    cvt();
    moves_and_boxing();
    csrs();
    bad_rm();
    fs_state();
    return test_done();
}
