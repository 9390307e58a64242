/* The CPU benchmark's kernels (bench/kernels.h) built for the host and
 * timed there: how fast the host itself does the work vmon and QEMU
 * emulate. Prints "native KERNEL sum=... ns=..." per kernel, the best of
 * five rounds; bench/cpu.sh turns it into guest instructions per second of
 * host time (the same C, compiled -O2 for x86-64 without vectorising). */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "kernels.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void)
{
    enum { NK = sizeof(kernels) / sizeof(kernels[0]) };
    uint64_t best[NK], sum[NK];
    /* whole rounds in the guest's order: a kernel leaves state (bytes[]) the
     * next one reads, and k_integer sets it up again */
    for (int r = 0; r < 5; r++)
        for (unsigned k = 0; k < NK; k++) {
            rng_state = 88172645463325252ull;
            uint64_t t0 = now_ns();
            sum[k] = kernels[k].fn();
            uint64_t dt = now_ns() - t0;
            if (!r || dt < best[k]) best[k] = dt;
        }
    for (unsigned k = 0; k < NK; k++)
        printf("native %s sum=%016llx ns=%llu\n", kernels[k].name, (unsigned long long)sum[k],
               (unsigned long long)best[k]);
    return 0;
}
