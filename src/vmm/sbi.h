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
    SBI_X_STA,
    SBI_X_UNKNOWN,
    SBI_X_COUNT
};

/* Serve the ecall in a7/a6/a0..a5; h->pc already points after it. */
void sbi_call(struct hart *h);
struct vcpu;
/* Write v's steal time to the SBI STA shared memory it set (SBI 2.0 ch.
 * 16: sequence odd while it changes, then the steal time in ns). */
void sbi_sta_write(struct vm *vm, struct vcpu *v);
void sbi_print_stats(struct vm *vm, FILE *out);
/* Every hypercall the VM's harts made, all extensions together. */
uint64_t sbi_total_calls(struct vm *vm);
#endif
