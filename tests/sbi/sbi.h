/* What the bare-metal S-mode SBI test programs share: the ecall, the
 * extension IDs, output through the debug console, and check counts. */
#ifndef VMON_TESTS_SBI_H
#define VMON_TESTS_SBI_H
#include <stdint.h>

struct sbiret {
    long error;
    long value;
};

static struct sbiret ecall(long eid, long fid, long a0, long a1, long a2)
{
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r6 __asm__("a6") = fid;
    register long r7 __asm__("a7") = eid;
    __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r6), "r"(r7) : "memory");
    return (struct sbiret){r0, r1};
}

#define EXT_BASE 0x10
#define EXT_TIME 0x54494d45
#define EXT_IPI 0x735049
#define EXT_RFENCE 0x52464e43
#define EXT_HSM 0x48534d
#define EXT_SRST 0x53525354
#define EXT_DBCN 0x4442434e
#define EXT_STA 0x535441

static void putc_(char c) { ecall(EXT_DBCN, 2, (unsigned char)c, 0, 0); }
static void puts_(const char *s)
{
    while (*s) putc_(*s++);
}
static void putnum(long v)
{
    char b[24];
    int n = 0;
    unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
    if (v < 0) putc_('-');
    do {
        b[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n) putc_(b[--n]);
}

static int passed, failed;
static void check(int ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        puts_("FAIL ");
        puts_(what);
        putc_('\n');
    }
}

static unsigned long rdtime(void)
{
    unsigned long t;
    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

/* "NAME: P passed, F failed", then a shutdown that fails if any did. */
static void report_and_stop(const char *name)
{
    puts_(name);
    puts_(": ");
    putnum(passed);
    puts_(" passed, ");
    putnum(failed);
    puts_(" failed\n");
    ecall(EXT_SRST, 0, 0, failed ? 1 : 0, 0);
}
#endif
