/* IEEE-754 binary32/binary64 arithmetic with RISC-V semantics (F and D
 * extensions, unprivileged spec chapters 11-12): every result and every
 * exception flag bit-exact, for all five rounding modes, independent of the
 * host's floating-point environment.
 *
 * Values travel as raw bit patterns (uint32_t for binary32, uint64_t for
 * binary64); NaN-boxing is the caller's business. rm is an already-resolved
 * rounding mode (FPU_RNE..FPU_RMM, never 7 = dynamic). Each function ORs the
 * exception flags it raises into *fl (FPU_NX..FPU_NV, the fflags layout).
 * Any NaN result is the canonical NaN. */
#ifndef VMON_FPU_H
#define VMON_FPU_H
#include <stdint.h>

enum { FPU_RNE = 0, FPU_RTZ = 1, FPU_RDN = 2, FPU_RUP = 3, FPU_RMM = 4 };

/* fflags bits */
#define FPU_NX 0x01u /* inexact */
#define FPU_UF 0x02u /* underflow */
#define FPU_OF 0x04u /* overflow */
#define FPU_DZ 0x08u /* divide by zero */
#define FPU_NV 0x10u /* invalid */

#define FPU_F32_CANON_NAN 0x7fc00000u
#define FPU_F64_CANON_NAN 0x7ff8000000000000ull

uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *fl);
uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *fl);
uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *fl);
uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *fl);
uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *fl);
/* (neg_prod ? -(a*b) : a*b) + (neg_add ? -c : c), rounded once.
 * FMADD (0,0), FMSUB (0,1), FNMSUB (1,0), FNMADD (1,1). */
uint32_t f32_fma(uint32_t a, uint32_t b, uint32_t c, int neg_prod, int neg_add, int rm,
                 uint32_t *fl);
/* FMIN/FMAX (IEEE 754-2019 minimumNumber/maximumNumber, -0 < +0). */
uint32_t f32_min(uint32_t a, uint32_t b, uint32_t *fl);
uint32_t f32_max(uint32_t a, uint32_t b, uint32_t *fl);
/* FEQ is quiet (NV only for signalling NaNs); FLT/FLE are signalling. */
int f32_eq(uint32_t a, uint32_t b, uint32_t *fl);
int f32_lt(uint32_t a, uint32_t b, uint32_t *fl);
int f32_le(uint32_t a, uint32_t b, uint32_t *fl);
/* FCLASS: the one-hot 10-bit class mask. */
unsigned f32_class(uint32_t a);
/* FCVT to integer, with the RISC-V saturation rules (NaN -> max). */
int32_t f32_to_i32(uint32_t a, int rm, uint32_t *fl);
uint32_t f32_to_u32(uint32_t a, int rm, uint32_t *fl);
int64_t f32_to_i64(uint32_t a, int rm, uint32_t *fl);
uint64_t f32_to_u64(uint32_t a, int rm, uint32_t *fl);
uint32_t i32_to_f32(int32_t v, int rm, uint32_t *fl);
uint32_t u32_to_f32(uint32_t v, int rm, uint32_t *fl);
uint32_t i64_to_f32(int64_t v, int rm, uint32_t *fl);
uint32_t u64_to_f32(uint64_t v, int rm, uint32_t *fl);

uint64_t f64_add(uint64_t a, uint64_t b, int rm, uint32_t *fl);
uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *fl);
uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *fl);
uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *fl);
uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *fl);
uint64_t f64_fma(uint64_t a, uint64_t b, uint64_t c, int neg_prod, int neg_add, int rm,
                 uint32_t *fl);
uint64_t f64_min(uint64_t a, uint64_t b, uint32_t *fl);
uint64_t f64_max(uint64_t a, uint64_t b, uint32_t *fl);
int f64_eq(uint64_t a, uint64_t b, uint32_t *fl);
int f64_lt(uint64_t a, uint64_t b, uint32_t *fl);
int f64_le(uint64_t a, uint64_t b, uint32_t *fl);
unsigned f64_class(uint64_t a);
int32_t f64_to_i32(uint64_t a, int rm, uint32_t *fl);
uint32_t f64_to_u32(uint64_t a, int rm, uint32_t *fl);
int64_t f64_to_i64(uint64_t a, int rm, uint32_t *fl);
uint64_t f64_to_u64(uint64_t a, int rm, uint32_t *fl);
uint64_t i32_to_f64(int32_t v, int rm, uint32_t *fl);
uint64_t u32_to_f64(uint32_t v, int rm, uint32_t *fl);
uint64_t i64_to_f64(int64_t v, int rm, uint32_t *fl);
uint64_t u64_to_f64(uint64_t v, int rm, uint32_t *fl);

/* FCVT.S.D rounds; FCVT.D.S is exact (flags only for signalling NaNs). */
uint32_t f64_to_f32(uint64_t a, int rm, uint32_t *fl);
uint64_t f32_to_f64(uint32_t a, uint32_t *fl);

/* The fast paths use the host FPU and assume the host's dynamic rounding
 * mode is round-to-nearest (the C default) with no flush-to-zero.
 *
 * Test hook: the exact software path alone (no host fast path), for format
 * w = 32 or 64; unused operands are ignored. FPU_OP_CVT_S_D takes a binary64
 * a and returns binary32 (w ignored). */
enum {
    FPU_OP_ADD,
    FPU_OP_SUB,
    FPU_OP_MUL,
    FPU_OP_DIV,
    FPU_OP_SQRT,
    FPU_OP_FMADD,
    FPU_OP_FMSUB,
    FPU_OP_FNMSUB,
    FPU_OP_FNMADD,
    FPU_OP_CVT_S_D,
};
uint64_t fpu_soft(int w, int op, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl);
#endif
