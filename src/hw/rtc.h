#ifndef VMON_RTC_H
#define VMON_RTC_H
#include <stdint.h>
#include "irq/irq.h"
struct vm;
/* Goldfish RTC (google,goldfish-rtc): host wall-clock time in ns. */
int rtc_create(struct vm *vm, uint64_t base, struct irq_line irq);
#endif
