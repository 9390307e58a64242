/* The vCPUs online (vmon run --cpus 3 --cpus-online 1, and the control
 * channel's cpus-online N), seen from an S-mode program through SBI HSM:
 * a start beyond the limit is denied (SBI_ERR_DENIED); once the host
 * allows 2, one more hart starts, and a third is denied while two run but
 * starts once one stopped; once the host allows only 1 again, starts are
 * denied. The program says "hsm: waiting for N" when it waits for the host
 * to set the limit to N. */
#include "sbi.h"

#define DENIED  (-4)
#define STOPPED 1

static volatile long running_hart = -1, release;

void secondary_main(long hartid, long opaque)
{
    (void)opaque;
    running_hart = hartid;
    while (!release)
        __asm__ volatile("fence" ::: "memory");
    release = 0;
    running_hart = -1;
    ecall(EXT_HSM, 1, 0, 0, 0); /* hart_stop: does not return */
    for (;;) {
    }
}

void trap_handler(void)
{
    puts_("FAIL unexpected trap\n");
    ecall(EXT_SRST, 0, 0, 1, 0);
}

extern char secondary_entry[];

static long start(long hart) { return ecall(EXT_HSM, 0, hart, (long)secondary_entry, 0).error; }

/* Until cond(hart) or 20 s. */
static int wait_for(int (*cond)(long), long hart)
{
    for (unsigned long t0 = rdtime(); rdtime() - t0 < 200000000ul;)
        if (cond(hart)) return 1;
    return 0;
}
static int is_running(long hart) { return running_hart == hart; }
static int is_stopped(long hart) { return ecall(EXT_HSM, 2, hart, 0, 0).value == STOPPED; }
static int starts(long hart) { return start(hart) == 0; }
/* Let the secondary that runs stop, and wait until it has. */
static void stop_secondary(long hart)
{
    release = 1;
    check(wait_for(is_stopped, hart), "the secondary stops");
}

/* Is a start denied? (One that is not runs the hart, which stops again.) */
static int denied(long hart)
{
    long r = start(hart);
    if (r == 0 && wait_for(is_running, hart)) {
        release = 1;
        wait_for(is_stopped, hart);
    }
    return r == DENIED;
}

void sbi_main(long hartid, long fdt)
{
    (void)hartid, (void)fdt;
    check(start(1) == DENIED, "with 1 vCPU online, hart 1 may not start");
    check(is_stopped(1), "hart 1 stays stopped");
    puts_("hsm: waiting for 2\n");
    check(wait_for(starts, 1), "once the host allows 2, hart 1 starts");
    check(wait_for(is_running, 1), "hart 1 runs");
    check(start(2) == DENIED, "with 2 running, hart 2 may not start");
    stop_secondary(1);
    check(start(2) == 0 && wait_for(is_running, 2), "hart 1 stopped: hart 2 starts");
    stop_secondary(2);
    puts_("hsm: waiting for 1\n");
    check(wait_for(denied, 1), "once the host allows 1 again, hart 1 may not start");
    report_and_stop("sbi-hsm");
    for (;;) {
    }
}
