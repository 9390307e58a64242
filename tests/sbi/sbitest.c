/* Bare-metal S-mode test of vmon's hypercall interface (SBI v2.0): checks
 * each extension's return values and effects. Run with --cpus 2. */
#include "sbi.h"

static volatile unsigned long irq_count[16];
static volatile unsigned long last_scause;

void trap_handler(void)
{
    unsigned long cause;
    __asm__ volatile("csrr %0, scause" : "=r"(cause));
    last_scause = cause;
    if ((long)cause < 0) {
        unsigned long code = cause & 0xff;
        if (code < 16) irq_count[code]++;
        if (code == 5) ecall(EXT_TIME, 0, -1, 0, 0);                  /* timer: disarm */
        if (code == 1) __asm__ volatile("csrc sip, %0" ::"r"(2ul));   /* ssip: clear */
    } else {
        /* unexpected exception: report and shut down with failure */
        puts_("FAIL unexpected exception ");
        putnum((long)cause);
        putc_('\n');
        ecall(EXT_SRST, 0, 0, 1, 0);
    }
}

static volatile long sec_hartid = -1, sec_opaque = -1, sec_ran;

void secondary_main(long hartid, long opaque)
{
    sec_hartid = hartid;
    sec_opaque = opaque;
    __asm__ volatile("fence" ::: "memory");
    sec_ran = 1;
    ecall(EXT_HSM, 1, 0, 0, 0); /* hart_stop: does not return */
    for (;;) {
    }
}

extern char secondary_entry[];
static const char msg[] = "dbcn write works\n";

void sbi_main(long hartid, long fdt)
{
    struct sbiret r;
    check(hartid == 0, "boot hart id is 0");
    check(fdt >= 0x80000000l, "a1 points at the FDT in RAM");
    check(*(volatile uint32_t *)fdt == 0xedfe0dd0u, "FDT magic");

    /* BASE */
    r = ecall(EXT_BASE, 0, 0, 0, 0);
    check(r.error == 0 && r.value == (2l << 24), "base: spec version 2.0");
    r = ecall(EXT_BASE, 1, 0, 0, 0);
    check(r.error == 0 && r.value == 0x766d6f6e, "base: impl id");
    r = ecall(EXT_BASE, 2, 0, 0, 0);
    check(r.error == 0 && r.value >= 1, "base: impl version");
    static const long exts[] = {EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM,
                                EXT_SRST, EXT_DBCN, EXT_STA, 0,      1, 8};
    for (unsigned i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        r = ecall(EXT_BASE, 3, exts[i], 0, 0);
        check(r.error == 0 && r.value == 1, "base: probe implemented extension");
    }
    r = ecall(EXT_BASE, 3, 0x12345678, 0, 0);
    check(r.error == 0 && r.value == 0, "base: probe unknown extension gives 0");
    for (long f = 4; f <= 6; f++) {
        r = ecall(EXT_BASE, f, 0, 0, 0);
        check(r.error == 0, "base: machine ids");
    }
    r = ecall(EXT_BASE, 99, 0, 0, 0);
    check(r.error == -2, "base: unknown function -> NOT_SUPPORTED");
    r = ecall(0x0abcdef0, 0, 0, 0, 0);
    check(r.error == -2, "unknown extension -> NOT_SUPPORTED");

    /* DBCN */
    r = ecall(EXT_DBCN, 0, sizeof(msg) - 1, (long)msg, 0);
    check(r.error == 0 && r.value == sizeof(msg) - 1, "dbcn: console_write count");
    r = ecall(EXT_DBCN, 0, 16, 0x1000, 0);
    check(r.error == -3, "dbcn: write from outside RAM -> INVALID_PARAM");
    r = ecall(EXT_DBCN, 0, 16, (long)msg, 1);
    check(r.error == -3, "dbcn: base_hi != 0 -> INVALID_PARAM");
    r = ecall(EXT_DBCN, 2, 'd', 0, 0);
    check(r.error == 0, "dbcn: write_byte");
    putc_('\n');
    /* legacy console_putchar returns 0 */
    r = ecall(0x01, 0, 'L', 0, 0);
    check(r.error == 0, "legacy putchar");
    putc_('\n');

    /* TIME: a timer interrupt arrives after set_timer */
    __asm__ volatile("csrs sie, %0" ::"r"((1ul << 5) | (1ul << 1)));
    __asm__ volatile("csrs sstatus, %0" ::"r"(2ul));
    unsigned long t0 = rdtime();
    r = ecall(EXT_TIME, 0, (long)(t0 + 20000), 0, 0); /* 2 ms */
    check(r.error == 0, "time: set_timer");
    while (irq_count[5] == 0 && rdtime() - t0 < 50000000ul) __asm__ volatile("wfi");
    check(irq_count[5] == 1, "time: one supervisor timer interrupt");
    check(rdtime() - t0 >= 20000, "time: not before the deadline");
    /* legacy set_timer too */
    t0 = rdtime();
    r = ecall(0x00, 0, (long)(t0 + 10000), 0, 0);
    while (irq_count[5] == 1 && rdtime() - t0 < 50000000ul) __asm__ volatile("wfi");
    check(irq_count[5] == 2, "legacy set_timer interrupt");

    /* IPI to self */
    r = ecall(EXT_IPI, 0, 1, 0, 0);
    check(r.error == 0, "ipi: send to self");
    for (int i = 0; i < 1000 && irq_count[1] == 0; i++) __asm__ volatile("nop");
    check(irq_count[1] == 1, "ipi: software interrupt taken");
    r = ecall(EXT_IPI, 0, 1, 5, 0);
    check(r.error == -3, "ipi: hart beyond the machine -> INVALID_PARAM");
    r = ecall(EXT_IPI, 0, 0, -1, 0);
    check(r.error == 0, "ipi: broadcast (base -1)");
    for (int i = 0; i < 1000 && irq_count[1] == 1; i++) __asm__ volatile("nop");
    check(irq_count[1] == 2, "ipi: broadcast reaches self");

    /* RFENCE */
    r = ecall(EXT_RFENCE, 0, 3, 0, 0);
    check(r.error == 0, "rfence: remote fence.i");
    r = ecall(EXT_RFENCE, 1, 3, 0, 0);
    check(r.error == 0, "rfence: remote sfence.vma");
    r = ecall(EXT_RFENCE, 2, 1, 0, 0);
    check(r.error == 0, "rfence: remote sfence.vma.asid");
    r = ecall(EXT_RFENCE, 1, 1, 7, 0);
    check(r.error == -3, "rfence: bad hart -> INVALID_PARAM");
    r = ecall(EXT_RFENCE, 3, 1, 0, 0);
    check(r.error == -2, "rfence: hypervisor fences not supported");

    /* HSM */
    r = ecall(EXT_HSM, 2, 0, 0, 0);
    check(r.error == 0 && r.value == 0, "hsm: hart 0 started");
    r = ecall(EXT_HSM, 2, 1, 0, 0);
    check(r.error == 0 && r.value == 1, "hsm: hart 1 stopped at boot");
    r = ecall(EXT_HSM, 2, 9, 0, 0);
    check(r.error == -3, "hsm: status of missing hart -> INVALID_PARAM");
    r = ecall(EXT_HSM, 0, 0, (long)secondary_entry, 0);
    check(r.error == -6, "hsm: start running hart -> ALREADY_AVAILABLE");
    r = ecall(EXT_HSM, 0, 1, 0x1000, 0);
    check(r.error == -5, "hsm: start at bad address -> INVALID_ADDRESS");
    r = ecall(EXT_HSM, 0, 1, (long)secondary_entry, 0x1234);
    check(r.error == 0, "hsm: hart_start");
    t0 = rdtime();
    while (!sec_ran && rdtime() - t0 < 50000000ul) {
    }
    check(sec_ran && sec_hartid == 1 && sec_opaque == 0x1234, "hsm: secondary got a0/a1");
    t0 = rdtime();
    do {
        r = ecall(EXT_HSM, 2, 1, 0, 0);
    } while (r.value != 1 && rdtime() - t0 < 50000000ul);
    check(r.value == 1, "hsm: secondary stopped itself");
    /* retentive suspend returns after an interrupt */
    t0 = rdtime();
    ecall(EXT_TIME, 0, (long)(t0 + 10000), 0, 0);
    r = ecall(EXT_HSM, 3, 0, 0, 0);
    check(r.error == 0, "hsm: retentive suspend");
    r = ecall(EXT_HSM, 3, 0x7, 0, 0);
    check(r.error == -3, "hsm: bad suspend type");

    /* STA: the steal time of this hart in a 64-byte area it names */
    static volatile uint64_t sta[16] __attribute__((aligned(64)));
    r = ecall(EXT_STA, 0, (long)&sta[1], 0, 0);
    check(r.error == -3, "sta: a misaligned area -> INVALID_PARAM");
    r = ecall(EXT_STA, 0, (long)sta, 0, 1);
    check(r.error == -3, "sta: flags -> INVALID_PARAM");
    r = ecall(EXT_STA, 0, 0x1000, 0, 0);
    check(r.error == -5, "sta: not RAM -> INVALID_ADDRESS");
    r = ecall(EXT_STA, 0, (long)sta, 0, 0);
    check(r.error == 0, "sta: set_shmem");
    t0 = rdtime();
    while (rdtime() - t0 < 3000000ul) { /* 0.3 s: vmon updates it as the hart runs */
    }
    uint32_t seq = (uint32_t)sta[0];
    check(seq >= 2 && !(seq & 1), "sta: the sequence is even and has moved");
    puts_("sta: steal ns ");
    putnum((long)sta[1]);
    putc_('\n');
    r = ecall(EXT_STA, 0, -1, -1, 0);
    check(r.error == 0, "sta: switched off");
    seq = (uint32_t)sta[0];
    t0 = rdtime();
    while (rdtime() - t0 < 200000ul) {
    }
    check((uint32_t)sta[0] == seq, "sta: no more updates once off");

    /* SRST bad arguments */
    r = ecall(EXT_SRST, 0, 5, 0, 0);
    check(r.error == -3, "srst: bad type");

    /* shutdown: reason 0 (none) → exit 0; system failure → nonzero */
    report_and_stop("sbi");
    for (;;) {
    }
}
