/* F and D computational instructions (everything but loads and stores),
 * shared by the interpreter and the translator: one place for NaN boxing,
 * canonical NaNs, rounding modes and fflags. */
#include "cpu/hart.h"
#include "cpu/fpu.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define SX32(v)     ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))
#define ILLEGAL()   return -1
#define RD          h->x[d->rd]
#define RS1         h->x[d->rs1]
#define FP_ON()                                                                                    \
    do {                                                                                           \
        if (unlikely(!(h->mstatus & MSTATUS_FS))) ILLEGAL();                                       \
    } while (0)
#define FP_DIRTY() (h->mstatus |= MSTATUS_FS)
#define RM(var)                                                                                    \
    int var = d->rm == 7 ? (int)h->frm : (int)d->rm;                                               \
    if (unlikely(var > 4)) ILLEGAL()
#define FLAGS(fl)                                                                                  \
    do {                                                                                           \
        if (fl) {                                                                                  \
            h->fflags |= (fl);                                                                     \
            FP_DIRTY();                                                                            \
        }                                                                                          \
    } while (0)
#define F32(r) unbox32(f[r])
#define FRD32(v)                                                                                   \
    do {                                                                                           \
        f[d->rd] = box32(v);                                                                       \
        FP_DIRTY();                                                                                \
    } while (0)
#define FRD64(v)                                                                                   \
    do {                                                                                           \
        f[d->rd] = (v);                                                                            \
        FP_DIRTY();                                                                                \
    } while (0)

static inline uint32_t unbox32(uint64_t v)
{
    return (v >> 32) == 0xffffffffu ? (uint32_t)v : FPU_F32_CANON_NAN;
}

static inline uint64_t box32(uint32_t v)
{
    return 0xffffffff00000000ull | v;
}

int hart_fp_exec(struct hart *h, const struct insn *d)
{
    uint64_t *const f = h->f;
    switch (d->op) {
#define FP_OP2(W, fn)                                                                              \
    do {                                                                                           \
        FP_ON();                                                                                   \
        RM(rm_);                                                                                   \
        uint32_t fl_ = 0;                                                                          \
        if (W == 32)                                                                               \
            FRD32(fn(F32(d->rs1), F32(d->rs2), rm_, &fl_));                                        \
        else                                                                                       \
            FRD64(fn##_d(f[d->rs1], f[d->rs2], rm_, &fl_));                                        \
        FLAGS(fl_);                                                                                \
        return 0;                                                                                  \
    } while (0)
#define f32_add_d f64_add
#define f32_sub_d f64_sub
#define f32_mul_d f64_mul
#define f32_div_d f64_div
    case OP_FADD_S: FP_OP2(32, f32_add);
    case OP_FSUB_S: FP_OP2(32, f32_sub);
    case OP_FMUL_S: FP_OP2(32, f32_mul);
    case OP_FDIV_S: FP_OP2(32, f32_div);
    case OP_FADD_D: FP_OP2(64, f32_add);
    case OP_FSUB_D: FP_OP2(64, f32_sub);
    case OP_FMUL_D: FP_OP2(64, f32_mul);
    case OP_FDIV_D: FP_OP2(64, f32_div);
    case OP_FSQRT_S: {
        FP_ON();
        RM(rm);
        uint32_t fl = 0;
        FRD32(f32_sqrt(F32(d->rs1), rm, &fl));
        FLAGS(fl);
        return 0;
    }
    case OP_FSQRT_D: {
        FP_ON();
        RM(rm);
        uint32_t fl = 0;
        FRD64(f64_sqrt(f[d->rs1], rm, &fl));
        FLAGS(fl);
        return 0;
    }
#define FMA_S(np, na)                                                                              \
    do {                                                                                           \
        FP_ON();                                                                                   \
        RM(rm_);                                                                                   \
        uint32_t fl_ = 0;                                                                          \
        FRD32(f32_fma(F32(d->rs1), F32(d->rs2), F32(d->rs3), np, na, rm_, &fl_));                  \
        FLAGS(fl_);                                                                                \
        return 0;                                                                                  \
    } while (0)
#define FMA_D(np, na)                                                                              \
    do {                                                                                           \
        FP_ON();                                                                                   \
        RM(rm_);                                                                                   \
        uint32_t fl_ = 0;                                                                          \
        FRD64(f64_fma(f[d->rs1], f[d->rs2], f[d->rs3], np, na, rm_, &fl_));                        \
        FLAGS(fl_);                                                                                \
        return 0;                                                                                  \
    } while (0)
    case OP_FMADD_S: FMA_S(0, 0);
    case OP_FMSUB_S: FMA_S(0, 1);
    case OP_FNMSUB_S: FMA_S(1, 0);
    case OP_FNMADD_S: FMA_S(1, 1);
    case OP_FMADD_D: FMA_D(0, 0);
    case OP_FMSUB_D: FMA_D(0, 1);
    case OP_FNMSUB_D: FMA_D(1, 0);
    case OP_FNMADD_D: FMA_D(1, 1);
#define SGNJ32(expr)                                                                               \
    do {                                                                                           \
        FP_ON();                                                                                   \
        uint32_t a = F32(d->rs1), s = F32(d->rs2);                                                 \
        FRD32((a & 0x7fffffffu) | ((expr)&0x80000000u));                                           \
        return 0;                                                                                  \
    } while (0)
#define SGNJ64(expr)                                                                               \
    do {                                                                                           \
        FP_ON();                                                                                   \
        uint64_t a = f[d->rs1], s = f[d->rs2];                                                     \
        FRD64((a & ~(1ull << 63)) | ((expr) & (1ull << 63)));                                      \
        return 0;                                                                                  \
    } while (0)
    case OP_FSGNJ_S: SGNJ32(s);
    case OP_FSGNJN_S: SGNJ32(~s);
    case OP_FSGNJX_S: SGNJ32(a ^ s);
    case OP_FSGNJ_D: SGNJ64(s);
    case OP_FSGNJN_D: SGNJ64(~s);
    case OP_FSGNJX_D: SGNJ64(a ^ s);
#define FMINMAX(W, fn)                                                                             \
    do {                                                                                           \
        FP_ON();                                                                                   \
        uint32_t fl_ = 0;                                                                          \
        if (W == 32)                                                                               \
            FRD32(fn(F32(d->rs1), F32(d->rs2), &fl_));                                             \
        else                                                                                       \
            FRD64(fn(f[d->rs1], f[d->rs2], &fl_));                                                 \
        FLAGS(fl_);                                                                                \
        return 0;                                                                                  \
    } while (0)
    case OP_FMIN_S: FMINMAX(32, f32_min);
    case OP_FMAX_S: FMINMAX(32, f32_max);
    case OP_FMIN_D: FMINMAX(64, f64_min);
    case OP_FMAX_D: FMINMAX(64, f64_max);
#define FCMP(W, fn)                                                                                \
    do {                                                                                           \
        FP_ON();                                                                                   \
        uint32_t fl_ = 0;                                                                          \
        if (W == 32)                                                                               \
            RD = (uint64_t)fn(F32(d->rs1), F32(d->rs2), &fl_);                                     \
        else                                                                                       \
            RD = (uint64_t)fn(f[d->rs1], f[d->rs2], &fl_);                                         \
        FLAGS(fl_);                                                                                \
        return 0;                                                                                  \
    } while (0)
    case OP_FEQ_S: FCMP(32, f32_eq);
    case OP_FLT_S: FCMP(32, f32_lt);
    case OP_FLE_S: FCMP(32, f32_le);
    case OP_FEQ_D: FCMP(64, f64_eq);
    case OP_FLT_D: FCMP(64, f64_lt);
    case OP_FLE_D: FCMP(64, f64_le);
    case OP_FCLASS_S:
        FP_ON();
        RD = f32_class(F32(d->rs1));
        return 0;
    case OP_FCLASS_D:
        FP_ON();
        RD = f64_class(f[d->rs1]);
        return 0;
    case OP_FMV_X_W:
        FP_ON();
        RD = SX32((uint32_t)f[d->rs1]);
        return 0;
    case OP_FMV_X_D:
        FP_ON();
        RD = f[d->rs1];
        return 0;
    case OP_FMV_W_X:
        FP_ON();
        FRD32((uint32_t)RS1);
        return 0;
    case OP_FMV_D_X:
        FP_ON();
        FRD64(RS1);
        return 0;
#define FCVT_TO_INT(src, fn, conv)                                                                 \
    do {                                                                                           \
        FP_ON();                                                                                   \
        RM(rm_);                                                                                   \
        uint32_t fl_ = 0;                                                                          \
        RD = conv(fn(src, rm_, &fl_));                                                             \
        FLAGS(fl_);                                                                                \
        return 0;                                                                                  \
    } while (0)
#define AS_I64(v)   ((uint64_t)(int64_t)(v))
#define AS_U32SX(v) SX32((uint32_t)(v))
#define AS_U64(v)   ((uint64_t)(v))
    case OP_FCVT_W_S: FCVT_TO_INT(F32(d->rs1), f32_to_i32, AS_I64);
    case OP_FCVT_WU_S: FCVT_TO_INT(F32(d->rs1), f32_to_u32, AS_U32SX);
    case OP_FCVT_L_S: FCVT_TO_INT(F32(d->rs1), f32_to_i64, AS_I64);
    case OP_FCVT_LU_S: FCVT_TO_INT(F32(d->rs1), f32_to_u64, AS_U64);
    case OP_FCVT_W_D: FCVT_TO_INT(f[d->rs1], f64_to_i32, AS_I64);
    case OP_FCVT_WU_D: FCVT_TO_INT(f[d->rs1], f64_to_u32, AS_U32SX);
    case OP_FCVT_L_D: FCVT_TO_INT(f[d->rs1], f64_to_i64, AS_I64);
    case OP_FCVT_LU_D: FCVT_TO_INT(f[d->rs1], f64_to_u64, AS_U64);
#define FCVT_FROM_INT(W, fn, src)                                                                  \
    do {                                                                                           \
        FP_ON();                                                                                   \
        RM(rm_);                                                                                   \
        uint32_t fl_ = 0;                                                                          \
        if (W == 32)                                                                               \
            FRD32((uint32_t)fn(src, rm_, &fl_));                                                   \
        else                                                                                       \
            FRD64((uint64_t)fn(src, rm_, &fl_));                                                   \
        FLAGS(fl_);                                                                                \
        return 0;                                                                                  \
    } while (0)
    case OP_FCVT_S_W: FCVT_FROM_INT(32, i32_to_f32, (int32_t)RS1);
    case OP_FCVT_S_WU: FCVT_FROM_INT(32, u32_to_f32, (uint32_t)RS1);
    case OP_FCVT_S_L: FCVT_FROM_INT(32, i64_to_f32, (int64_t)RS1);
    case OP_FCVT_S_LU: FCVT_FROM_INT(32, u64_to_f32, RS1);
    case OP_FCVT_D_W: FCVT_FROM_INT(64, i32_to_f64, (int32_t)RS1);
    case OP_FCVT_D_WU: FCVT_FROM_INT(64, u32_to_f64, (uint32_t)RS1);
    case OP_FCVT_D_L: FCVT_FROM_INT(64, i64_to_f64, (int64_t)RS1);
    case OP_FCVT_D_LU: FCVT_FROM_INT(64, u64_to_f64, RS1);
    case OP_FCVT_S_D: {
        FP_ON();
        RM(rm);
        uint32_t fl = 0;
        FRD32(f64_to_f32(f[d->rs1], rm, &fl));
        FLAGS(fl);
        return 0;
    }
    case OP_FCVT_D_S: {
        FP_ON();
        RM(rm);
        uint32_t fl = 0;
        FRD64(f32_to_f64(F32(d->rs1), &fl));
        FLAGS(fl);
        return 0;
    }
    }
    return -1;
}
