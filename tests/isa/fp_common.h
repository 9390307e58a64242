/* Helpers for the F/D ISA tests (fp_single.c, fp_double.c).
 *
 * Every FP operation runs as one inline-asm block: fflags is cleared,
 * operands are moved into ft0/ft1/ft2 (fmv.w.x NaN-boxes singles), the
 * instruction text `insn` is executed (it must write ft3, or %0 for an
 * integer result, and read ft0/ft1/ft2 or %2 for an integer source), and
 * the result and the accrued flags are read back.  The last flags are left
 * in fp_fl. */
#ifndef ISA_FP_COMMON_H
#define ISA_FP_COMMON_H
#include "common.h"

static u64 fp_fl;

#define FP_NX 0x01
#define FP_UF 0x02
#define FP_OF 0x04
#define FP_DZ 0x08
#define FP_NV 0x10

#define CLOB "ft0", "ft1", "ft2", "ft3", "memory"

/* single precision: float sources, float result (read with fmv.x.w) */
#define S_OP(insn, a, b, c)                                                                        \
    ({                                                                                             \
        u64 r_;                                                                                    \
        __asm__ volatile("csrw fflags, zero\n\t"                                                   \
                         "fmv.w.x ft0, %2\n\t"                                                     \
                         "fmv.w.x ft1, %3\n\t"                                                     \
                         "fmv.w.x ft2, %4\n\t" insn "\n\t"                                         \
                         "fmv.x.w %0, ft3\n\t"                                                     \
                         "frflags %1"                                                              \
                         : "=r"(r_), "=r"(fp_fl)                                                   \
                         : "r"((u64)(a)), "r"((u64)(b)), "r"((u64)(c))                             \
                         : CLOB);                                                                  \
        r_;                                                                                        \
    })
/* single sources, integer result in %0 */
#define S_TOX(insn, a, b)                                                                          \
    ({                                                                                             \
        u64 r_;                                                                                    \
        __asm__ volatile("csrw fflags, zero\n\t"                                                   \
                         "fmv.w.x ft0, %2\n\t"                                                     \
                         "fmv.w.x ft1, %3\n\t" insn "\n\t"                                         \
                         "frflags %1"                                                              \
                         : "=&r"(r_), "=r"(fp_fl)                                                  \
                         : "r"((u64)(a)), "r"((u64)(b))                                            \
                         : CLOB);                                                                  \
        r_;                                                                                        \
    })
/* integer source %2, float result in ft3 read with fmv.x.w / fmv.x.d */
#define X_TOS(insn, a)                                                                             \
    ({                                                                                             \
        u64 r_;                                                                                    \
        __asm__ volatile("csrw fflags, zero\n\t" insn "\n\t"                                       \
                         "fmv.x.w %0, ft3\n\t"                                                     \
                         "frflags %1"                                                              \
                         : "=r"(r_), "=r"(fp_fl)                                                   \
                         : "r"((u64)(a))                                                           \
                         : CLOB);                                                                  \
        r_;                                                                                        \
    })
#define X_TOD(insn, a)                                                                             \
    ({                                                                                             \
        u64 r_;                                                                                    \
        __asm__ volatile("csrw fflags, zero\n\t" insn "\n\t"                                       \
                         "fmv.x.d %0, ft3\n\t"                                                     \
                         "frflags %1"                                                              \
                         : "=r"(r_), "=r"(fp_fl)                                                   \
                         : "r"((u64)(a))                                                           \
                         : CLOB);                                                                  \
        r_;                                                                                        \
    })
/* double precision: raw 64-bit register images in, 64-bit image out (also
 * used with unboxed/boxed single values to test NaN-boxing) */
#define D_OP(insn, a, b, c)                                                                        \
    ({                                                                                             \
        u64 r_;                                                                                    \
        __asm__ volatile("csrw fflags, zero\n\t"                                                   \
                         "fmv.d.x ft0, %2\n\t"                                                     \
                         "fmv.d.x ft1, %3\n\t"                                                     \
                         "fmv.d.x ft2, %4\n\t" insn "\n\t"                                         \
                         "fmv.x.d %0, ft3\n\t"                                                     \
                         "frflags %1"                                                              \
                         : "=r"(r_), "=r"(fp_fl)                                                   \
                         : "r"((u64)(a)), "r"((u64)(b)), "r"((u64)(c))                             \
                         : CLOB);                                                                  \
        r_;                                                                                        \
    })
#define D_TOX(insn, a, b)                                                                          \
    ({                                                                                             \
        u64 r_;                                                                                    \
        __asm__ volatile("csrw fflags, zero\n\t"                                                   \
                         "fmv.d.x ft0, %2\n\t"                                                     \
                         "fmv.d.x ft1, %3\n\t" insn "\n\t"                                         \
                         "frflags %1"                                                              \
                         : "=&r"(r_), "=r"(fp_fl)                                                  \
                         : "r"((u64)(a)), "r"((u64)(b))                                            \
                         : CLOB);                                                                  \
        r_;                                                                                        \
    })

/* checks: result and flags */
#define TS(insn, a, b, c, want, wfl)                                                               \
    do {                                                                                           \
        u64 r = S_OP(insn, a, b, c);                                                               \
        CHECK(insn, r, SX32(want));                                                                \
        CHECK(insn " [fflags]", fp_fl, wfl);                                                       \
    } while (0)
#define TD(insn, a, b, c, want, wfl)                                                               \
    do {                                                                                           \
        u64 r = D_OP(insn, a, b, c);                                                               \
        CHECK(insn, r, want);                                                                      \
        CHECK(insn " [fflags]", fp_fl, wfl);                                                       \
    } while (0)
#define TSX(insn, a, b, want, wfl)                                                                 \
    do {                                                                                           \
        u64 r = S_TOX(insn, a, b);                                                                 \
        CHECK(insn, r, want);                                                                      \
        CHECK(insn " [fflags]", fp_fl, wfl);                                                       \
    } while (0)
#define TDX(insn, a, b, want, wfl)                                                                 \
    do {                                                                                           \
        u64 r = D_TOX(insn, a, b);                                                                 \
        CHECK(insn, r, want);                                                                      \
        CHECK(insn " [fflags]", fp_fl, wfl);                                                       \
    } while (0)
#define TXS(insn, a, want, wfl)                                                                    \
    do {                                                                                           \
        u64 r = X_TOS(insn, a);                                                                    \
        CHECK(insn, r, SX32(want));                                                                \
        CHECK(insn " [fflags]", fp_fl, wfl);                                                       \
    } while (0)
#define TXD(insn, a, want, wfl)                                                                    \
    do {                                                                                           \
        u64 r = X_TOD(insn, a);                                                                    \
        CHECK(insn, r, want);                                                                      \
        CHECK(insn " [fflags]", fp_fl, wfl);                                                       \
    } while (0)

/* Expect `insn` (any text) to raise an illegal-instruction exception. */
#define T_ILLEGAL(name, insn)                                                                      \
    do {                                                                                           \
        TRAP_EXPECT();                                                                             \
        __asm__ volatile(insn ::: CLOB, "a0");                                                     \
        TRAP_END();                                                                                \
        CHECK(name " [traps]", trap.count, 1);                                                     \
        CHECK(name " [cause]", trap.cause, CAUSE_ILLEGAL_INSN);                                    \
    } while (0)
/* Expect no exception. */
#define T_LEGAL(name, insn)                                                                        \
    do {                                                                                           \
        TRAP_EXPECT();                                                                             \
        __asm__ volatile(insn ::: CLOB, "a0");                                                     \
        TRAP_END();                                                                                \
        CHECK(name " [no trap]", trap.count, 0);                                                   \
    } while (0)

static inline void set_frm(u64 rm) { __asm__ volatile("csrw frm, %0" ::"r"(rm) : "memory"); }
static inline u64 get_fs(void) { return (csr_read(mstatus) & MSTATUS_FS) >> MSTATUS_FS_SHIFT; }
static inline void set_fs(u64 fs)
{
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, fs << MSTATUS_FS_SHIFT);
}
#endif
