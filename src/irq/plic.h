#ifndef VMON_PLIC_H
#define VMON_PLIC_H
#include <stdint.h>
#include "irq/irq.h"
struct vm;
struct plic;

#define PLIC_NSRC 64 /* sources 1..63 (0 is reserved) */
#define PLIC_SIZE 0x600000

/* Platform-level interrupt controller (RISC-V PLIC specification): two
 * contexts per hart, M (2*hart) and S (2*hart + 1). */
struct plic *plic_create(struct vm *vm, uint64_t base);
/* An irq_line wired to source num. */
struct irq_line plic_line(struct plic *p, unsigned num);
void plic_set_irq(void *plic, unsigned num, int level);
#endif
