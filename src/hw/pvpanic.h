#ifndef VMON_PVPANIC_H
#define VMON_PVPANIC_H
#include <stdint.h>
struct vm;
/* qemu,pvpanic-mmio at base: a guest write of bit 0 reports a panic
 * (vm_guest_panicked). */
int pvpanic_create(struct vm *vm, uint64_t base);
#endif
