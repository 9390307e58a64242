#ifndef VMON_SYSCON_H
#define VMON_SYSCON_H
#include <stdint.h>
struct vm;
/* sifive,test0 finisher, also used as syscon poweroff/reboot:
 * 0x5555 pass/poweroff, (code << 16) | 0x3333 fail, 0x7777 reset. */
int syscon_create(struct vm *vm, uint64_t base);
#endif
