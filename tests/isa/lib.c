/* Runtime shared by every ISA test: console, checks, trap handlers. */
#include "common.h"

/* ---------------- console / exit ---------------- */
void putchar_(int c)
{
    volatile u8 *uart = (volatile u8 *)UART_BASE;
    /* wait (bounded) for THR empty */
    for (int i = 0; i < 100000 && !(uart[5] & 0x20); i++)
        ;
    uart[0] = (u8)c;
}

void puts_(const char *s)
{
    while (*s) {
        if (*s == '\n') putchar_('\r');
        putchar_(*s++);
    }
}

static void print_num(u64 v, int base, int width, int neg, int zpad)
{
    char buf[32];
    int n = 0;
    do {
        int d = (int)(v % (u64)base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= (u64)base;
    } while (v);
    if (neg) buf[n++] = '-';
    while (n < width) buf[n++] = zpad ? '0' : ' ';
    while (n) putchar_(buf[--n]);
}

void vprintf_(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            if (*fmt == '\n') putchar_('\r');
            putchar_(*fmt);
            continue;
        }
        fmt++;
        int zpad = 0, width = 0, lng = 0;
        if (*fmt == '0') zpad = 1, fmt++;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') lng++, fmt++;
        switch (*fmt) {
        case 'd': {
            i64 v = lng ? va_arg(ap, i64) : va_arg(ap, int);
            print_num(v < 0 ? (u64)-v : (u64)v, 10, width, v < 0, zpad);
            break;
        }
        case 'u': {
            u64 v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned);
            print_num(v, 10, width, 0, zpad);
            break;
        }
        case 'x': {
            u64 v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned);
            print_num(v, 16, width, 0, zpad);
            break;
        }
        case 'p':
            puts_("0x");
            print_num((u64)va_arg(ap, void *), 16, 0, 0, 0);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            puts_(s ? s : "(null)");
            break;
        }
        case 'c':
            putchar_(va_arg(ap, int));
            break;
        case '%':
            putchar_('%');
            break;
        default:
            putchar_('%');
            putchar_(*fmt);
            break;
        }
    }
}

void printf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf_(fmt, ap);
    va_end(ap);
}

void exit_(int code)
{
    u32 v = code == 0 ? 0x5555 : (((u32)code & 0xffff) << 16) | 0x3333;
    mmio_write32(FINISHER_BASE, v);
    for (;;) __asm__ volatile("wfi");
}

/* ---------------- checks ---------------- */
const char *test_name = "test";
int n_checks, n_fails, first_fail;

void check_failed(const char *name, long idx, u64 got, u64 exp)
{
    n_fails++;
    if (!first_fail) first_fail = (n_checks - 1) % 255 + 1;
    if (n_fails > 40) {
        if (n_fails == 41) puts_("(further failures not printed)\n");
        return;
    }
    if (idx >= 0)
        printf_("FAIL %s case %ld: got 0x%lx expected 0x%lx\n", name, idx, got, exp);
    else
        printf_("FAIL %s: got 0x%lx expected 0x%lx\n", name, got, exp);
}

u32 mmio_probe32(u64 addr)
{
    u32 v = 0;
    TRAP_EXPECT();
    __asm__ volatile("lw %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory");
    TRAP_END();
    return trap.count ? 0 : v;
}

u64 virtio_find(u32 device_id)
{
    for (u64 b = 0x10001000ul; b < 0x10001000ul + 8 * 0x1000; b += 0x1000)
        if (mmio_probe32(b) == 0x74726976 && mmio_probe32(b + 8) == device_id) return b;
    return 0;
}

int test_done(void)
{
    if (n_fails) {
        printf_("%s: FAILED %d of %d checks\n", test_name, n_fails, n_checks);
        exit_(first_fail ? first_fail : 255);
    }
    printf_("%s: ok (%d checks)\n", test_name, n_checks);
    exit_(0);
}

/* ---------------- libc bits the compiler may call ---------------- */
void *memset(void *d, int c, size_t n)
{
    u8 *p = d;
    while (n--) *p++ = (u8)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--) *p++ = *q++;
    return d;
}
int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q) return *p - *q;
    return 0;
}

/* ---------------- traps ---------------- */
volatile struct trap_rec trap;
volatile int trap_armed;
volatile u64 trap_resume_pc;
volatile struct irq_rec irq_log[IRQ_LOG_MAX];
volatile int irq_count;
int (*volatile irq_hook)(u64 cause, int handler);
volatile int g_priv = PRIV_M;

int cur_priv(void) { return g_priv; }

void irq_reset(void)
{
    irq_count = 0;
    for (int i = 0; i < IRQ_LOG_MAX; i++) irq_log[i].cause = ~0ull;
}

void goto_priv(int priv)
{
    register u64 a0 __asm__("a0") = (u64)priv;
    register u64 a7 __asm__("a7") = ECALL_MAGIC;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "memory");
}

struct frame {
    u64 x[32];
    i64 vec;
    u64 pad;
};

static u64 insn_len_at(u64 epc)
{
    u16 h = *(volatile u16 *)epc;
    return (h & 3) == 3 ? 4 : 2;
}

static __attribute__((noreturn)) void unexpected(const char *who, u64 cause, u64 epc, u64 tval)
{
    printf_("FAIL %s: unexpected trap (%s) cause=0x%lx epc=0x%lx tval=0x%lx\n", test_name, who,
            cause, epc, tval);
    exit_(255);
}

static void default_irq_clear_m(u64 c)
{
    switch (c) {
    case IRQ_MTI: mmio_write64(CLINT_MTIMECMP, ~0ull); break;
    case IRQ_MSI: mmio_write32(CLINT_MSIP, 0); break;
    case IRQ_SSI: csr_clear(mip, 1ull << IRQ_SSI); break;
    case IRQ_STI: csr_clear(mip, 1ull << IRQ_STI); break;
    case IRQ_SEI: csr_clear(mip, 1ull << IRQ_SEI); break;
    default: csr_clear(mie, 1ull << c); break;
    }
}

void m_trap_c(struct frame *f)
{
    u64 cause = csr_read(mcause), epc = csr_read(mepc), tval = csr_read(mtval);
    u64 st = csr_read(mstatus);
    int prev = (int)((st >> MSTATUS_MPP_SHIFT) & 3);
    if (cause >> 63) {
        u64 c = cause & 0xff;
        int i = irq_count;
        if (i < IRQ_LOG_MAX) {
            irq_log[i].cause = c;
            irq_log[i].handler = PRIV_M;
            irq_log[i].prev_priv = prev;
            irq_log[i].vec = f->vec;
            irq_log[i].epc = epc;
        }
        irq_count = i + 1;
        if (irq_count > 1000) unexpected("interrupt storm", cause, epc, tval);
        if (!(irq_hook && irq_hook(c, PRIV_M))) default_irq_clear_m(c);
        return;
    }
    if ((cause == CAUSE_ECALL_U || cause == CAUSE_ECALL_S || cause == CAUSE_ECALL_M) &&
        f->x[17] == ECALL_MAGIC) {
        u64 p = f->x[10] & 3;
        st = (st & ~MSTATUS_MPP) | (p << MSTATUS_MPP_SHIFT);
        csr_write(mstatus, st);
        csr_write(mepc, epc + 4);
        g_priv = (int)p;
        return;
    }
    if ((cause == CAUSE_ECALL_U || cause == CAUSE_ECALL_S || cause == CAUSE_ECALL_M) &&
        f->x[17] == ECALL_MAGIC_RET) {
        extern char cim_resume[];
        csr_set(mstatus, MSTATUS_MPP); /* back to M */
        csr_write(mepc, (u64)cim_resume);
        g_priv = PRIV_M;
        return;
    }
    if (!trap_armed) unexpected("M", cause, epc, tval);
    trap.cause = cause;
    trap.tval = tval;
    trap.epc = epc;
    trap.status = st;
    trap.handler = PRIV_M;
    trap.vec = f->vec;
    trap.count++;
    if (trap_resume_pc) {
        csr_write(mepc, trap_resume_pc);
        trap_resume_pc = 0;
    } else if (cause == CAUSE_MISALIGNED_FETCH || cause == CAUSE_FETCH_ACCESS ||
               cause == CAUSE_FETCH_PAGE) {
        csr_write(mepc, f->x[1]);
    } else {
        csr_write(mepc, epc + insn_len_at(epc));
    }
}

void s_trap_c(struct frame *f)
{
    u64 cause = csr_read(scause), epc = csr_read(sepc), tval = csr_read(stval);
    u64 st = csr_read(sstatus);
    int prev = (st & MSTATUS_SPP) ? PRIV_S : PRIV_U;
    if (cause >> 63) {
        u64 c = cause & 0xff;
        int i = irq_count;
        if (i < IRQ_LOG_MAX) {
            irq_log[i].cause = c;
            irq_log[i].handler = PRIV_S;
            irq_log[i].prev_priv = prev;
            irq_log[i].vec = f->vec;
            irq_log[i].epc = epc;
        }
        irq_count = i + 1;
        if (irq_count > 1000) unexpected("S interrupt storm", cause, epc, tval);
        if (!(irq_hook && irq_hook(c, PRIV_S))) {
            if (c == IRQ_SSI)
                csr_clear(sip, 1ull << IRQ_SSI);
            else
                csr_clear(sie, 1ull << c);
        }
        return;
    }
    if (!trap_armed) unexpected("S", cause, epc, tval);
    trap.cause = cause;
    trap.tval = tval;
    trap.epc = epc;
    trap.status = st;
    trap.handler = PRIV_S;
    trap.vec = f->vec;
    trap.count++;
    if (trap_resume_pc) {
        csr_write(sepc, trap_resume_pc);
        trap_resume_pc = 0;
    } else if (cause == CAUSE_MISALIGNED_FETCH || cause == CAUSE_FETCH_ACCESS ||
               cause == CAUSE_FETCH_PAGE) {
        csr_write(sepc, f->x[1]);
    } else {
        u64 old = csr_set(sstatus, MSTATUS_SUM);
        u64 len = insn_len_at(epc);
        if (!(old & MSTATUS_SUM)) csr_clear(sstatus, MSTATUS_SUM);
        csr_write(sepc, epc + len);
    }
}
