#ifndef VMON_CLINT_H
#define VMON_CLINT_H
#include <stdint.h>
struct vm;
struct clint;
/* SiFive CLINT / ACLINT MSWI+MTIMER layout: msip at 0x0, mtimecmp at 0x4000,
 * mtime at 0xbff8. */
struct clint *clint_create(struct vm *vm, uint64_t base);
#define CLINT_SIZE 0x10000
#endif
