/* D extension: arithmetic with static and dynamic rounding modes, exception
 * flags, FMA variants, sign injection, min/max, compares, fclass, all
 * conversions, moves, loads/stores, invalid rounding modes and mstatus.FS.
 * Expected values are those of QEMU (the reference). */
#include "fp_common.h"

#define D1 0x3ff0000000000000ull
#define D2 0x4000000000000000ull
#define D3 0x4008000000000000ull
#define DHALF 0x3fe0000000000000ull
#define DMAX 0x7fefffffffffffffull
#define DINF 0x7ff0000000000000ull
#define DQNAN 0x7ff8000000000000ull
#define DQNANP 0x7ff8000000012345ull
#define DSNAN 0x7ff0000000000001ull
#define DMINN 0x0010000000000000ull
#define DNEG 0x8000000000000000ull
#define DEPS 0x3ca0000000000000ull /* 2^-53: half an ulp of 1 */

static void arith(void)
{
    TD("fadd.d ft3, ft0, ft1", D1, D2, 0, D3, 0);
    TD("fadd.d ft3, ft0, ft1, rne", D1, DEPS, 0, D1, FP_NX);
    TD("fadd.d ft3, ft0, ft1, rmm", D1, DEPS, 0, D1 + 1, FP_NX);
    TD("fadd.d ft3, ft0, ft1, rup", D1, DEPS, 0, D1 + 1, FP_NX);
    TD("fadd.d ft3, ft0, ft1, rtz", D1, DEPS, 0, D1, FP_NX);
    TD("fadd.d ft3, ft0, ft1, rdn", D1 | DNEG, DEPS | DNEG, 0, (D1 + 1) | DNEG, FP_NX);
    TD("fadd.d ft3, ft0, ft1, rmm", D1 | DNEG, DEPS | DNEG, 0, (D1 + 1) | DNEG, FP_NX);
    TD("fadd.d ft3, ft0, ft1, rmm", D1 + 1, DEPS, 0, D1 + 2, FP_NX);
    TD("fsub.d ft3, ft0, ft1, rne", D1, D1, 0, 0, 0);
    TD("fsub.d ft3, ft0, ft1, rdn", D1, D1, 0, DNEG, 0);
    TD("fadd.d ft3, ft0, ft1, rdn", DNEG, 0, 0, DNEG, 0);
    TD("fadd.d ft3, ft0, ft1", 1, 1, 0, 2, 0);
    TD("fadd.d ft3, ft0, ft1, rne", DMAX, DMAX, 0, DINF, FP_OF | FP_NX);
    TD("fadd.d ft3, ft0, ft1, rtz", DMAX, DMAX, 0, DMAX, FP_OF | FP_NX);
    TD("fadd.d ft3, ft0, ft1, rdn", DMAX, DMAX, 0, DMAX, FP_OF | FP_NX);
    TD("fadd.d ft3, ft0, ft1, rup", DMAX, DMAX, 0, DINF, FP_OF | FP_NX);
    TD("fadd.d ft3, ft0, ft1, rmm", DMAX, DMAX, 0, DINF, FP_OF | FP_NX);
    TD("fadd.d ft3, ft0, ft1, rup", DMAX | DNEG, DMAX | DNEG, 0, DMAX | DNEG, FP_OF | FP_NX);
    TD("fadd.d ft3, ft0, ft1, rdn", DMAX | DNEG, DMAX | DNEG, 0, DINF | DNEG, FP_OF | FP_NX);
    TD("fadd.d ft3, ft0, ft1, rup", DMAX, 0x7c80000000000000ull, 0, DINF, FP_OF | FP_NX);
    TD("fadd.d ft3, ft0, ft1, rne", DMAX, 0x7c80000000000000ull, 0, DMAX, FP_NX);
    TD("fsub.d ft3, ft0, ft1", DINF, DINF, 0, DQNAN, FP_NV);
    TD("fadd.d ft3, ft0, ft1", DQNANP, D1, 0, DQNAN, 0);
    TD("fadd.d ft3, ft0, ft1", D1, DSNAN, 0, DQNAN, FP_NV);
    TD("fmul.d ft3, ft0, ft1, rne", 0x3ff8000000000000ull, 0x3ff0000000000003ull, 0,
       0x3ff8000000000004ull, FP_NX);
    TD("fmul.d ft3, ft0, ft1, rmm", 0x3ff8000000000000ull, 0x3ff0000000000003ull, 0,
       0x3ff8000000000005ull, FP_NX);
    TD("fmul.d ft3, ft0, ft1", DINF, DNEG, 0, DQNAN, FP_NV);
    TD("fmul.d ft3, ft0, ft1", DINF, D1 | DNEG, 0, DINF | DNEG, 0);
    TD("fmul.d ft3, ft0, ft1, rne", 1, DHALF, 0, 0, FP_UF | FP_NX);
    TD("fmul.d ft3, ft0, ft1, rmm", 1, DHALF, 0, 1, FP_UF | FP_NX);
    TD("fmul.d ft3, ft0, ft1, rdn", 1 | DNEG, DHALF, 0, 1 | DNEG, FP_UF | FP_NX);
    TD("fmul.d ft3, ft0, ft1, rne", 3, DHALF, 0, 2, FP_UF | FP_NX);
    TD("fmul.d ft3, ft0, ft1", DMINN, DHALF, 0, 0x0008000000000000ull, 0);
    /* tininess after rounding: (1 - 2^-104) 2^-1022 */
    TD("fmul.d ft3, ft0, ft1, rne", 0x1ffffffffffffffeull, 0x2000000000000001ull, 0, DMINN,
       FP_NX);
    TD("fmul.d ft3, ft0, ft1, rtz", 0x1ffffffffffffffeull, 0x2000000000000001ull, 0,
       0x000fffffffffffffull, FP_UF | FP_NX);
    TD("fmul.d ft3, ft0, ft1, rne", 0x3fefffffffffffffull, DMINN, 0, DMINN, FP_UF | FP_NX);
    TD("fmul.d ft3, ft0, ft1, rne", DMAX, D2, 0, DINF, FP_OF | FP_NX);
    TD("fmul.d ft3, ft0, ft1, rtz", DMAX, D2 | DNEG, 0, DMAX | DNEG, FP_OF | FP_NX);
    TD("fdiv.d ft3, ft0, ft1, rne", D1, D3, 0, 0x3fd5555555555555ull, FP_NX);
    TD("fdiv.d ft3, ft0, ft1, rup", D1, D3, 0, 0x3fd5555555555556ull, FP_NX);
    TD("fdiv.d ft3, ft0, ft1, rtz", D1 | DNEG, D3, 0, 0xbfd5555555555555ull, FP_NX);
    TD("fdiv.d ft3, ft0, ft1, rdn", D1 | DNEG, D3, 0, 0xbfd5555555555556ull, FP_NX);
    TD("fdiv.d ft3, ft0, ft1", D1, 0, 0, DINF, FP_DZ);
    TD("fdiv.d ft3, ft0, ft1", D1 | DNEG, 0, 0, DINF | DNEG, FP_DZ);
    TD("fdiv.d ft3, ft0, ft1", 0, 0, 0, DQNAN, FP_NV);
    TD("fdiv.d ft3, ft0, ft1", DINF, DINF | DNEG, 0, DQNAN, FP_NV);
    TD("fdiv.d ft3, ft0, ft1", DQNAN, 0, 0, DQNAN, 0);
    TD("fdiv.d ft3, ft0, ft1, rne", 1, D2, 0, 0, FP_UF | FP_NX);
    TD("fdiv.d ft3, ft0, ft1, rmm", 1, D2, 0, 1, FP_UF | FP_NX);
    TD("fsqrt.d ft3, ft0", 0x4010000000000000ull, 0, 0, D2, 0);
    TD("fsqrt.d ft3, ft0, rne", D2, 0, 0, 0x3ff6a09e667f3bcdull, FP_NX);
    TD("fsqrt.d ft3, ft0, rdn", D2, 0, 0, 0x3ff6a09e667f3bccull, FP_NX);
    TD("fsqrt.d ft3, ft0", 1, 0, 0, 0x1e60000000000000ull, 0);
    TD("fsqrt.d ft3, ft0", DNEG, 0, 0, DNEG, 0);
    TD("fsqrt.d ft3, ft0", D1 | DNEG, 0, 0, DQNAN, FP_NV);
    TD("fsqrt.d ft3, ft0", DINF | DNEG, 0, 0, DQNAN, FP_NV);
    TD("fsqrt.d ft3, ft0", DSNAN, 0, 0, DQNAN, FP_NV);
    TD("fsqrt.d ft3, ft0", DINF, 0, 0, DINF, 0);

    set_frm(1);
    TD("fdiv.d ft3, ft0, ft1", D1, D3, 0, 0x3fd5555555555555ull, FP_NX);
    TD("fadd.d ft3, ft0, ft1", DMAX, DMAX, 0, DMAX, FP_OF | FP_NX);
    set_frm(2);
    TD("fsub.d ft3, ft0, ft1", D2, D2, 0, DNEG, 0);
    TD("fdiv.d ft3, ft0, ft1, dyn", D1 | DNEG, D3, 0, 0xbfd5555555555556ull, FP_NX);
    set_frm(3);
    TD("fsqrt.d ft3, ft0", D2, 0, 0, 0x3ff6a09e667f3bcdull, FP_NX);
    TD("fadd.d ft3, ft0, ft1", D1, 1, 0, D1 + 1, FP_NX);
    TD("fadd.d ft3, ft0, ft1, rtz", D1, 1, 0, D1, FP_NX);
    set_frm(4);
    TD("fadd.d ft3, ft0, ft1", D1, DEPS, 0, D1 + 1, FP_NX);
    TD("fmul.d ft3, ft0, ft1", 1, DHALF, 0, 1, FP_UF | FP_NX);
    set_frm(0);
    TD("fadd.d ft3, ft0, ft1", D1, DEPS, 0, D1, FP_NX);
}

static void fma(void)
{
    TD("fmadd.d ft3, ft0, ft1, ft2", D1, D2, D3, 0x4014000000000000ull, 0);
    TD("fmsub.d ft3, ft0, ft1, ft2", D1, D2, D3, 0xbff0000000000000ull, 0);
    TD("fnmsub.d ft3, ft0, ft1, ft2", D1, D2, D3, D1, 0);
    TD("fnmadd.d ft3, ft0, ft1, ft2", D1, D2, D3, 0xc014000000000000ull, 0);
    /* single rounding: (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 */
    TD("fmsub.d ft3, ft0, ft1, ft2", D1 + 1, 0x3feffffffffffffeull, D1, 0xb970000000000000ull, 0);
    TD("fmadd.d ft3, ft0, ft1, ft2, rne", D1 + 1, D1 + 1, D1 | DNEG, 0x3cc0000000000000ull, FP_NX);
    TD("fmadd.d ft3, ft0, ft1, ft2, rup", D1 + 1, D1 + 1, D1 | DNEG, 0x3cc0000000000001ull, FP_NX);
    TD("fmadd.d ft3, ft0, ft1, ft2, rmm", D1, DEPS, D1, D1 + 1, FP_NX);
    TD("fmadd.d ft3, ft0, ft1, ft2, rne", D1, DEPS, D1, D1, FP_NX);
    TD("fnmadd.d ft3, ft0, ft1, ft2, rmm", D1, DEPS, D1, (D1 + 1) | DNEG, FP_NX);
    TD("fmadd.d ft3, ft0, ft1, ft2, rdn", D1, D1, D1 | DNEG, DNEG, 0);
    TD("fmadd.d ft3, ft0, ft1, ft2, rne", D1, D1, D1 | DNEG, 0, 0);
    TD("fnmadd.d ft3, ft0, ft1, ft2", 0, D1, 0, DNEG, 0);
    TD("fnmsub.d ft3, ft0, ft1, ft2", 0, D1, 0, 0, 0);
    TD("fmadd.d ft3, ft0, ft1, ft2", DMAX, D2, DMAX | DNEG, DMAX, 0);
    TD("fmadd.d ft3, ft0, ft1, ft2", DMINN, DHALF, 1, 0x0008000000000001ull, 0);
    TD("fmadd.d ft3, ft0, ft1, ft2", DMINN, 0x3fefffffffffffffull, 0, DMINN, FP_UF | FP_NX);
    TD("fmadd.d ft3, ft0, ft1, ft2", DINF, 0, DQNAN, DQNAN, FP_NV);
    TD("fmadd.d ft3, ft0, ft1, ft2", 0, DINF, D1, DQNAN, FP_NV);
    TD("fmadd.d ft3, ft0, ft1, ft2", DQNAN, 0, DINF, DQNAN, 0);
    TD("fmsub.d ft3, ft0, ft1, ft2", DINF, D1, DINF, DQNAN, FP_NV);
    TD("fmadd.d ft3, ft0, ft1, ft2", D1, D1, DSNAN, DQNAN, FP_NV);
    TD("fmadd.d ft3, ft0, ft1, ft2, rtz", DMAX, D2, 0, DMAX, FP_OF | FP_NX);
    set_frm(4);
    TD("fmadd.d ft3, ft0, ft1, ft2", D1, DEPS, D1, D1 + 1, FP_NX);
    set_frm(0);
}

static void misc(void)
{
    TD("fsgnj.d ft3, ft0, ft1", D1, D2 | DNEG, 0, D1 | DNEG, 0);
    TD("fsgnjn.d ft3, ft0, ft1", D1, D2 | DNEG, 0, D1, 0);
    TD("fsgnjn.d ft3, ft0, ft1", D1, D2, 0, D1 | DNEG, 0);
    TD("fsgnjx.d ft3, ft0, ft1", D1 | DNEG, D2 | DNEG, 0, D1, 0);
    TD("fsgnjx.d ft3, ft0, ft1", D1 | DNEG, D2, 0, D1 | DNEG, 0);
    TD("fsgnj.d ft3, ft0, ft1", DSNAN, DNEG, 0, DSNAN | DNEG, 0);
    TD("fmin.d ft3, ft0, ft1", D1, D2, 0, D1, 0);
    TD("fmax.d ft3, ft0, ft1", D1, D2, 0, D2, 0);
    TD("fmin.d ft3, ft0, ft1", DNEG, 0, 0, DNEG, 0);
    TD("fmin.d ft3, ft0, ft1", 0, DNEG, 0, DNEG, 0);
    TD("fmax.d ft3, ft0, ft1", DNEG, 0, 0, 0, 0);
    TD("fmax.d ft3, ft0, ft1", 0, DNEG, 0, 0, 0);
    TD("fmin.d ft3, ft0, ft1", DQNANP, D1, 0, D1, 0);
    TD("fmax.d ft3, ft0, ft1", D1, DSNAN, 0, D1, FP_NV);
    TD("fmin.d ft3, ft0, ft1", DQNANP, DQNAN, 0, DQNAN, 0);
    TD("fmax.d ft3, ft0, ft1", DSNAN, DQNANP, 0, DQNAN, FP_NV);
    TD("fmax.d ft3, ft0, ft1", DINF | DNEG, DMAX | DNEG, 0, DMAX | DNEG, 0);
    TDX("feq.d %0, ft0, ft1", D1, D1, 1, 0);
    TDX("feq.d %0, ft0, ft1", DNEG, 0, 1, 0);
    TDX("feq.d %0, ft0, ft1", DQNAN, DQNAN, 0, 0);
    TDX("feq.d %0, ft0, ft1", D1, DSNAN, 0, FP_NV);
    TDX("flt.d %0, ft0, ft1", D1, D2, 1, 0);
    TDX("flt.d %0, ft0, ft1", D2 | DNEG, D1 | DNEG, 1, 0);
    TDX("flt.d %0, ft0, ft1", DNEG, 0, 0, 0);
    TDX("flt.d %0, ft0, ft1", DQNAN, D1, 0, FP_NV);
    TDX("fle.d %0, ft0, ft1", 0, DNEG, 1, 0);
    TDX("fle.d %0, ft0, ft1", D2, D1, 0, 0);
    TDX("fle.d %0, ft0, ft1", D1, DQNANP, 0, FP_NV);
    TDX("fclass.d %0, ft0", DINF | DNEG, 0, 1 << 0, 0);
    TDX("fclass.d %0, ft0", D1 | DNEG, 0, 1 << 1, 0);
    TDX("fclass.d %0, ft0", 0x800fffffffffffffull, 0, 1 << 2, 0);
    TDX("fclass.d %0, ft0", DNEG, 0, 1 << 3, 0);
    TDX("fclass.d %0, ft0", 0, 0, 1 << 4, 0);
    TDX("fclass.d %0, ft0", 1, 0, 1 << 5, 0);
    TDX("fclass.d %0, ft0", DMINN, 0, 1 << 6, 0);
    TDX("fclass.d %0, ft0", DINF, 0, 1 << 7, 0);
    TDX("fclass.d %0, ft0", 0x7ff7ffffffffffffull, 0, 1 << 8, 0);
    TDX("fclass.d %0, ft0", DQNANP | DNEG, 0, 1 << 9, 0);
}

static void cvt(void)
{
    TDX("fcvt.w.d %0, ft0, rne", 0x4004000000000000ull, 0, 2, FP_NX); /* 2.5 */
    TDX("fcvt.w.d %0, ft0, rmm", 0x4004000000000000ull, 0, 3, FP_NX);
    TDX("fcvt.w.d %0, ft0, rup", 0x4004000000000000ull, 0, 3, FP_NX);
    TDX("fcvt.w.d %0, ft0, rmm", 0xc004000000000000ull, 0, -3ull, FP_NX);
    TDX("fcvt.w.d %0, ft0, rup", 0xc004000000000000ull, 0, -2ull, FP_NX);
    TDX("fcvt.w.d %0, ft0, rtz", 0xc1e0000000100000ull, 0, 0xffffffff80000000ull, FP_NX);
    TDX("fcvt.w.d %0, ft0, rdn", 0xc1e0000000100000ull, 0, 0xffffffff80000000ull, FP_NV);
    TDX("fcvt.w.d %0, ft0, rtz", 0x41dfffffffc00000ull, 0, 0x7fffffff, 0);
    TDX("fcvt.w.d %0, ft0, rne", 0x41dfffffffe00000ull, 0, 0x7fffffff, FP_NV);
    TDX("fcvt.w.d %0, ft0, rdn", 0x41dfffffffe00000ull, 0, 0x7fffffff, FP_NX);
    TDX("fcvt.w.d %0, ft0, rtz", DQNAN | DNEG, 0, 0x7fffffff, FP_NV);
    TDX("fcvt.w.d %0, ft0, rtz", DINF | DNEG, 0, 0xffffffff80000000ull, FP_NV);
    TDX("fcvt.w.d %0, ft0, rdn", 1 | DNEG, 0, -1ull, FP_NX);
    TDX("fcvt.w.d %0, ft0, rdn", 1, 0, 0, FP_NX);
    TDX("fcvt.wu.d %0, ft0, rne", 0xbfe0000000000000ull, 0, 0, FP_NX);
    TDX("fcvt.wu.d %0, ft0, rne", 0xbfe0000000000001ull, 0, 0, FP_NV);
    TDX("fcvt.wu.d %0, ft0, rtz", 0xbfd3333333333333ull, 0, 0, FP_NX); /* -0.3 */
    TDX("fcvt.wu.d %0, ft0, rtz", 0x41efffffffe00000ull, 0, ~0ull, 0);
    TDX("fcvt.wu.d %0, ft0, rtz", 0x41e65a0bc0000000ull, 0, 0xffffffffb2d05e00ull, 0);
    TDX("fcvt.wu.d %0, ft0, rtz", 0x41f0000000000000ull, 0, ~0ull, FP_NV);
    TDX("fcvt.wu.d %0, ft0, rtz", DINF | DNEG, 0, 0, FP_NV);
    TDX("fcvt.l.d %0, ft0, rtz", 0x43e0000000000000ull, 0, 0x7fffffffffffffffull, FP_NV);
    TDX("fcvt.l.d %0, ft0, rtz", 0xc3e0000000000000ull, 0, 0x8000000000000000ull, 0);
    TDX("fcvt.l.d %0, ft0, rtz", 0x43dfffffffffffffull, 0, 0x7ffffffffffffc00ull, 0);
    TDX("fcvt.l.d %0, ft0, rtz", DSNAN, 0, 0x7fffffffffffffffull, FP_NV);
    TDX("fcvt.l.d %0, ft0, rne", 0xc00c000000000000ull, 0, -4ull, FP_NX); /* -3.5 */
    TDX("fcvt.lu.d %0, ft0, rtz", 0x43f0000000000000ull, 0, ~0ull, FP_NV);
    TDX("fcvt.lu.d %0, ft0, rtz", 0x43efffffffffffffull, 0, 0xfffffffffffff800ull, 0);
    TDX("fcvt.lu.d %0, ft0, rtz", DINF | DNEG, 0, 0, FP_NV);
    TDX("fcvt.lu.d %0, ft0, rtz", DQNAN | DNEG, 0, ~0ull, FP_NV);
    TDX("fcvt.lu.d %0, ft0, rmm", 0x3fe0000000000000ull, 0, 1, FP_NX);
    TDX("fcvt.lu.d %0, ft0, rne", 0x3fe0000000000000ull, 0, 0, FP_NX);
    set_frm(2);
    TDX("fcvt.l.d %0, ft0", 0xc004000000000000ull, 0, -3ull, FP_NX);
    TDX("fcvt.l.d %0, ft0, dyn", 0x4004000000000000ull, 0, 2, FP_NX);
    set_frm(0);
    TXD("fcvt.d.w ft3, %2", 0x1234567880000000ull, 0xc1e0000000000000ull, 0);
    TXD("fcvt.d.w ft3, %2", 0, 0, 0);
    TXD("fcvt.d.wu ft3, %2", 0x12345678ffffffffull, 0x41efffffffe00000ull, 0);
    TXD("fcvt.d.l ft3, %2, rne", (1ull << 53) + 1, 0x4340000000000000ull, FP_NX);
    TXD("fcvt.d.l ft3, %2, rmm", (1ull << 53) + 1, 0x4340000000000001ull, FP_NX);
    TXD("fcvt.d.l ft3, %2, rdn", -(1ll << 53) - 1, 0xc340000000000001ull, FP_NX);
    TXD("fcvt.d.l ft3, %2", 0x8000000000000000ull, 0xc3e0000000000000ull, 0);
    TXD("fcvt.d.l ft3, %2", -1ll, D1 | DNEG, 0);
    TXD("fcvt.d.lu ft3, %2, rne", ~0ull, 0x43f0000000000000ull, FP_NX);
    TXD("fcvt.d.lu ft3, %2, rtz", ~0ull, 0x43efffffffffffffull, FP_NX);
    set_frm(3);
    TXD("fcvt.d.lu ft3, %2", (1ull << 53) + 1, 0x4340000000000001ull, FP_NX);
    set_frm(0);
}

static volatile u64 mem64[4] = {0x400921fb54442d18ull, 0, 0xbff0000000000000ull, 0};

static void moves(void)
{
    u64 r;
    TXD("fmv.d.x ft3, %2", 0x123456789abcdef0ull, 0x123456789abcdef0ull, 0);
    TDX("fmv.x.d %0, ft0", DSNAN | DNEG, 0, DSNAN | DNEG, 0);
    __asm__ volatile("fld ft0, 0(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(&mem64[0]) : CLOB);
    CHECK("fld", r, 0x400921fb54442d18ull);
    __asm__ volatile("fld ft0, 16(%0)\n\tfsd ft0, 8(%0)" ::"r"(&mem64[0]) : CLOB);
    CHECK("fsd", mem64[1], 0xbff0000000000000ull);
    CHECK("fsd no overrun", mem64[3], 0);
    /* a double register holding a boxed single reads back whole */
    __asm__ volatile("fmv.w.x ft0, %1\n\tfsd ft0, 24(%0)" ::"r"(&mem64[0]), "r"(0x3f800000ull)
                     : CLOB);
    CHECK("fsd of boxed single", mem64[3], 0xffffffff3f800000ull);
    /* a boxed single used as a double is just a NaN bit pattern */
    TD("fadd.d ft3, ft0, ft1", 0xffffffff3f800000ull, D1, 0, DQNAN, 0);
}

static void bad_rm(void)
{
    T_ILLEGAL("fadd.d rm=5", ".insn r 0x53, 5, 0x01, ft3, ft0, ft1");
    T_ILLEGAL("fdiv.d rm=6", ".insn r 0x53, 6, 0x0d, ft3, ft0, ft1");
    T_ILLEGAL("fsqrt.d rm=5", ".insn r 0x53, 5, 0x2d, ft3, ft0, f0");
    T_ILLEGAL("fcvt.w.d rm=6", ".insn r 0x53, 6, 0x61, a0, ft0, x0");
    T_ILLEGAL("fcvt.d.l rm=5", ".insn r 0x53, 5, 0x69, ft3, a0, x2");
    T_ILLEGAL("fcvt.s.d rm=6", ".insn r 0x53, 6, 0x20, ft3, ft0, f1");
    T_ILLEGAL("fmadd.d rm=5", ".insn r4 0x43, 5, 1, ft3, ft0, ft1, ft2");
    T_ILLEGAL("fmsub.d rm=6", ".insn r4 0x47, 6, 1, ft3, ft0, ft1, ft2");
    T_LEGAL("fadd.d rm=4", ".insn r 0x53, 4, 0x01, ft3, ft0, ft1");
    for (u64 m = 5; m <= 7; m++) {
        set_frm(m);
        T_ILLEGAL("fadd.d dyn bad frm", "fadd.d ft3, ft0, ft1");
        T_ILLEGAL("fsqrt.d dyn bad frm", "fsqrt.d ft3, ft0, dyn");
        T_ILLEGAL("fnmsub.d dyn bad frm", "fnmsub.d ft3, ft0, ft1, ft2");
        T_ILLEGAL("fcvt.l.d dyn bad frm", "fcvt.l.d a0, ft0");
        T_ILLEGAL("fcvt.d.lu dyn bad frm", "fcvt.d.lu ft3, a0");
        T_ILLEGAL("fcvt.s.d dyn bad frm", "fcvt.s.d ft3, ft0");
        T_LEGAL("fsgnjx.d bad frm", "fsgnjx.d ft3, ft0, ft1");
        T_LEGAL("fmax.d bad frm", "fmax.d ft3, ft0, ft1");
        T_LEGAL("fle.d bad frm", "fle.d a0, ft0, ft1");
        T_LEGAL("fclass.d bad frm", "fclass.d a0, ft0");
        T_LEGAL("fmv.x.d bad frm", "fmv.x.d a0, ft0");
        T_LEGAL("fmv.d.x bad frm", "fmv.d.x ft3, zero");
        T_LEGAL("fmul.d rtz bad frm", "fmul.d ft3, ft0, ft1, rtz");
        CHECK("frm kept", csr_read(frm), m);
    }
    set_frm(0);
}

static volatile u64 scratch[2];

static void fs_state(void)
{
    set_fs(0);
    T_ILLEGAL("fadd.d FS=0", "fadd.d ft3, ft0, ft1");
    T_ILLEGAL("fmsub.d FS=0", "fmsub.d ft3, ft0, ft1, ft2");
    T_ILLEGAL("fmv.d.x FS=0", "fmv.d.x ft3, zero");
    T_ILLEGAL("fmv.x.d FS=0", "fmv.x.d a0, ft0");
    T_ILLEGAL("fcvt.l.d FS=0", "fcvt.l.d a0, ft0");
    T_ILLEGAL("fcvt.s.d FS=0", "fcvt.s.d ft3, ft0");
    T_ILLEGAL("fld FS=0", "fld ft3, 0(sp)");
    T_ILLEGAL("fsd FS=0", "fsd ft3, 0(sp)");
    T_ILLEGAL("fclass.d FS=0", "fclass.d a0, ft0");
    T_ILLEGAL("fsflags FS=0", "fsflags a0, zero");
    CHECK("FS still off", get_fs(), 0);
    set_fs(1);
    CHECK("SD initial", csr_read(mstatus) >> 63, 0);
    __asm__ volatile("fmul.d ft3, ft0, ft1" ::: CLOB);
    CHECK("FS dirty after fmul.d", get_fs(), 3);
    CHECK("mstatus.SD", csr_read(mstatus) >> 63, 1);
    CHECK("sstatus.SD", csr_read(sstatus) >> 63, 1);
    set_fs(2);
    CHECK("SD clean", csr_read(mstatus) >> 63, 0);
    __asm__ volatile("fld ft3, 0(%0)" ::"r"(&scratch[0]) : CLOB);
    CHECK("FS dirty after fld", get_fs(), 3);
    set_fs(2);
    __asm__ volatile("fmv.d.x ft3, zero" ::: CLOB);
    CHECK("FS dirty after fmv.d.x", get_fs(), 3);
    set_fs(2);
    __asm__ volatile("fcvt.d.l ft3, zero" ::: CLOB);
    CHECK("FS dirty after fcvt.d.l", get_fs(), 3);
    set_fs(2);
    csr_write(fcsr, 0);
    CHECK("FS dirty after fcsr write", get_fs(), 3);
    set_fs(1);
}

int main(void)
{
    test_name = "fp_double";
    arith();
    fma();
    misc();
    cvt();
    moves();
    bad_rm();
    fs_state();
    return test_done();
}
