/* vmon CPU benchmark: a bare-metal program with integer, memory, branch and
 * floating-point kernels, run once in M-mode without translation and once in
 * S-mode under Sv39 paging. Each kernel prints its checksum (identical on
 * every correct RV64GC machine), the retired instruction count and the
 * elapsed mtime ticks (10 MHz). bench/cpu.sh runs it on vmon and QEMU; the
 * kernels are in kernels.h, which bench/native.c times on the host. */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000ul)
#define FINISHER ((volatile uint32_t *)0x100000ul)
#define MTIME ((volatile uint64_t *)0x200bff8ul)

void enter_s(void (*fn)(void), uint64_t satp);

static void putc_(char c)
{
    for (int i = 0; i < 100000 && !(UART[5] & 0x20); i++)
        ;
    UART[0] = (uint8_t)c;
}

static void puts_(const char *s)
{
    while (*s) putc_(*s++);
}

static void putu(uint64_t v)
{
    char b[24];
    int n = 0;
    do b[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (n) putc_(b[--n]);
}

static void putx(uint64_t v)
{
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}

static inline uint64_t rdinstret(void)
{
    uint64_t v;
    __asm__ volatile("rdinstret %0" : "=r"(v));
    return v;
}

#include "kernels.h"

/* ---- driver ---- */

static void run_all(const char *mode)
{
    for (unsigned k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
        rng_state = 88172645463325252ull;
        uint64_t t0 = *MTIME, i0 = rdinstret();
        uint64_t sum = kernels[k].fn();
        uint64_t i1 = rdinstret(), t1 = *MTIME;
        puts_("bench ");
        puts_(mode);
        puts_(" ");
        puts_(kernels[k].name);
        puts_(" sum=");
        putx(sum);
        puts_(" insns=");
        putu(i1 - i0);
        puts_(" ticks=");
        putu(t1 - t0);
        puts_("\n");
    }
}

/* Sv39 root table: identity gigapages over the low 4 GiB (devices and RAM). */
static uint64_t root_pt[512] __attribute__((aligned(4096)));

static void s_mode_part(void)
{
    run_all("sv39");
    *FINISHER = 0x5555;
    for (;;)
        ;
}

void bench_main(void);
void bench_main(void)
{
    run_all("bare");
    for (uint64_t g = 0; g < 4; g++) /* V R W X A D, global */
        root_pt[g] = ((g << 30) >> 12) << 10 | 0xef;
    __asm__ volatile("csrw mcounteren, %0" ::"r"(7ul));
    enter_s(s_mode_part, (8ull << 60) | ((uint64_t)(uintptr_t)root_pt >> 12));
}
