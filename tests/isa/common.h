/*
 * Common definitions for the vmon ISA tests.
 *
 * Every test is a bare-metal M-mode program entered at 0x80000000 (see
 * crt.S).  crt.S sets up stacks, a PMP entry 0 that grants S/U access to all
 * memory, mtvec/stvec trap entries, mstatus.FS = Initial, and calls
 * `int main(void)`.  main returns through test_done().
 *
 * Checks:   CHECK(name, got, expected)     compare two 64-bit values
 *           CHECKI(name, idx, got, exp)    same, with a case number
 * A failing check prints "FAIL <name> [case N]: got X expected Y" and the
 * program keeps going; at the end the exit code is the number (1..255) of
 * the first failing check.
 *
 * Traps: arm the framework with TRAP_EXPECT(); an exception taken while
 * armed is recorded in `trap` (cause, tval, epc, mstatus/sstatus, which
 * handler took it) and the faulting instruction is skipped (or execution
 * resumes at trap_resume_pc if set, or at ra for instruction fetch faults).
 * An exception taken while not armed is a test failure.
 * Interrupts are always recorded in irq_log[] and their source cleared.
 *
 * Privilege switching: goto_priv(PRIV_U / PRIV_S / PRIV_M) continues the
 * calling code in the given mode (via mret, or an ecall with a7 = magic).
 * Callers must not have delegated ecalls (medeleg bits 8/9) when using it.
 */
#ifndef ISA_COMMON_H
#define ISA_COMMON_H

#define PRIV_U 0
#define PRIV_S 1
#define PRIV_M 3
#define ECALL_MAGIC 0x5ec0de
#define ECALL_MAGIC_RET 0x5ec0df

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL_INSN 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_ECALL_U 8
#define CAUSE_ECALL_S 9
#define CAUSE_ECALL_M 11
#define CAUSE_FETCH_PAGE 12
#define CAUSE_LOAD_PAGE 13
#define CAUSE_STORE_PAGE 15

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11

#define MSTATUS_SIE (1ull << 1)
#define MSTATUS_MIE (1ull << 3)
#define MSTATUS_SPIE (1ull << 5)
#define MSTATUS_UBE (1ull << 6)
#define MSTATUS_MPIE (1ull << 7)
#define MSTATUS_SPP (1ull << 8)
#define MSTATUS_VS (3ull << 9)
#define MSTATUS_MPP (3ull << 11)
#define MSTATUS_FS (3ull << 13)
#define MSTATUS_XS (3ull << 15)
#define MSTATUS_MPRV (1ull << 17)
#define MSTATUS_SUM (1ull << 18)
#define MSTATUS_MXR (1ull << 19)
#define MSTATUS_TVM (1ull << 20)
#define MSTATUS_TW (1ull << 21)
#define MSTATUS_TSR (1ull << 22)
#define MSTATUS_UXL (3ull << 32)
#define MSTATUS_SXL (3ull << 34)
#define MSTATUS_SD (1ull << 63)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_MPP_SHIFT 11

#define UART_BASE 0x10000000ul
#define FINISHER_BASE 0x100000ul
#define CLINT_BASE 0x2000000ul
#define CLINT_MSIP (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME (CLINT_BASE + 0xbff8)

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t u64;
typedef int64_t i64;
typedef uint32_t u32;
typedef int32_t i32;
typedef uint16_t u16;
typedef uint8_t u8;

#define STR_(x) #x
#define STR(x) STR_(x)

#define csr_read(csr)                                                  \
    ({                                                                 \
        u64 _v;                                                        \
        __asm__ volatile("csrr %0, " STR(csr) : "=r"(_v)::"memory");   \
        _v;                                                            \
    })
#define csr_write(csr, val)                                            \
    do {                                                               \
        u64 _w = (u64)(val);                                           \
        __asm__ volatile("csrw " STR(csr) ", %0" ::"r"(_w) : "memory"); \
    } while (0)
#define csr_swap(csr, val)                                                     \
    ({                                                                         \
        u64 _v, _w = (u64)(val);                                               \
        __asm__ volatile("csrrw %0, " STR(csr) ", %1" : "=r"(_v) : "r"(_w) : "memory"); \
        _v;                                                                    \
    })
#define csr_set(csr, val)                                              \
    ({                                                                 \
        u64 _v, _w = (u64)(val);                                       \
        __asm__ volatile("csrrs %0, " STR(csr) ", %1" : "=r"(_v) : "r"(_w) : "memory"); \
        _v;                                                            \
    })
#define csr_clear(csr, val)                                            \
    ({                                                                 \
        u64 _v, _w = (u64)(val);                                       \
        __asm__ volatile("csrrc %0, " STR(csr) ", %1" : "=r"(_v) : "r"(_w) : "memory"); \
        _v;                                                            \
    })

static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)addr = v; }
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)addr; }
static inline void mmio_write64(u64 addr, u64 v) { *(volatile u64 *)addr = v; }
static inline u64 mmio_read64(u64 addr) { return *(volatile u64 *)addr; }

/* ---- output and exit ---- */
void putchar_(int c);
void puts_(const char *s);
void printf_(const char *fmt, ...);
void vprintf_(const char *fmt, va_list ap);
__attribute__((noreturn)) void exit_(int code); /* 0 = pass */

/* ---- checks ---- */
extern const char *test_name;
extern int n_checks, n_fails, first_fail;
void check_failed(const char *name, long idx, u64 got, u64 exp);
int test_done(void); /* prints summary, exits (never returns) */

#define CHECKI(name, idx, got, exp)                                    \
    do {                                                               \
        u64 _g = (u64)(got), _e = (u64)(exp);                          \
        n_checks++;                                                    \
        if (_g != _e) check_failed((name), (long)(idx), _g, _e);       \
    } while (0)
#define CHECK(name, got, exp) CHECKI(name, -1L, got, exp)
/* boolean check */
#define CHECKT(name, cond) CHECK(name, !!(cond), 1)

/* ---- traps ---- */
struct trap_rec {
    u64 cause, tval, epc;
    u64 status; /* mstatus (M handler) or sstatus (S handler) after trap entry */
    u64 count;  /* number of exceptions recorded since TRAP_EXPECT */
    int handler; /* PRIV_M or PRIV_S: which mode took the trap */
    u64 tval2, tinst;
    long vec; /* vectored entry index the trap came through, or -1 (direct) */
};
extern volatile struct trap_rec trap;
extern volatile int trap_armed;
extern volatile u64 trap_resume_pc;

#define TRAP_EXPECT()                                                  \
    do {                                                               \
        trap.count = 0;                                                \
        trap.cause = trap.tval = trap.epc = ~0ull;                     \
        trap.handler = -1;                                             \
        trap_armed = 1;                                                \
        __asm__ volatile("" ::: "memory");                             \
    } while (0)
#define TRAP_END()                                                     \
    do {                                                               \
        __asm__ volatile("" ::: "memory");                             \
        trap_armed = 0;                                                \
    } while (0)

struct irq_rec {
    u64 cause;  /* without the interrupt bit */
    int handler; /* PRIV_M or PRIV_S */
    int prev_priv; /* privilege the hart was in */
    long vec;   /* vectored entry index or -1 */
    u64 epc;
};
#define IRQ_LOG_MAX 64
extern volatile struct irq_rec irq_log[IRQ_LOG_MAX];
extern volatile int irq_count;
/* optional hook called for each interrupt (after logging) instead of the
 * default source clearing; return nonzero if it handled clearing */
extern int (*volatile irq_hook)(u64 cause, int handler);
void irq_reset(void);

/* privilege switching (crt.S / lib.c) */
void goto_priv(int priv);
int cur_priv(void); /* tracked by the framework */
extern volatile int g_priv;

/* Call fn(arg) in privilege `priv` (from M-mode only).  fn returns with
 * `ret`; its a0 is returned.  If sp is nonzero, fn runs on that stack,
 * else on the current one.  fn (and the return trampoline, in .text.user)
 * must be executable in that mode. */
u64 call_in_mode(int priv, void *fn, u64 arg, u64 sp);
extern char __user_text_start[], __user_text_end[], __user_data_start[], __user_data_end[];
#define USER_TEXT __attribute__((section(".text.user")))
#define USER_DATA __attribute__((section(".data.user")))

/* trap entry points (crt.S) */
extern char m_trap_entry[], s_trap_entry[], m_vector_table[], s_vector_table[];
extern char __free_mem[], __image_end[];

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

static inline u64 rdmtime(void) { return mmio_read64(CLINT_MTIME); }

/* A 32-bit MMIO register, or 0 when nothing answers there (an empty virtio
 * slot faults on vmon; the trap handler skips the load). */
u32 mmio_probe32(u64 addr);
/* The base of the first virtio-mmio device with this device ID, or 0. */
u64 virtio_find(u32 device_id);
static inline void fence_i(void) { __asm__ volatile("fence.i" ::: "memory"); }
static inline void sfence_vma_all(void) { __asm__ volatile("sfence.vma" ::: "memory"); }

/* sign-extend helpers */
#define SX32(x) ((u64)(i64)(i32)(u32)(x))
#define SX16(x) ((u64)(i64)(int16_t)(u16)(x))
#define SX8(x) ((u64)(i64)(int8_t)(u8)(x))

#endif /* __ASSEMBLER__ */
#endif
