/* Hypercalls: the SBI v2.0 interface served by vmon when no firmware runs
 * in M-mode (the guest kernel's ecalls from S-mode land here, as on KVM). */
#ifndef VMON_SBI_H
#define VMON_SBI_H
#include <stdint.h>
#include <stdio.h>
struct hart;
struct vm;

enum sbi_ext_index {
    SBI_X_LEGACY,
    SBI_X_BASE,
    SBI_X_TIME,
    SBI_X_IPI,
    SBI_X_RFENCE,
    SBI_X_HSM,
    SBI_X_SRST,
    SBI_X_DBCN,
    SBI_X_UNKNOWN,
    SBI_X_COUNT
};

/* Serve the ecall in a7/a6/a0..a5; h->pc already points after it. */
void sbi_call(struct hart *h);
void sbi_print_stats(struct vm *vm, FILE *out);
#endif
