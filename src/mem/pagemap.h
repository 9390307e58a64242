/* Which pages of an anonymous mapping were ever touched: a page the host
 * kernel has neither in memory nor in swap was never written and reads as
 * zeros, so snapshots and migrations need not read it (a freshly booted
 * 256 MiB guest has touched a few tens of MiB). From /proc/self/pagemap. */
#ifndef VMON_MEM_PAGEMAP_H
#define VMON_MEM_PAGEMAP_H
#include <stddef.h>
#include <stdint.h>

/* map[i] = 1 if page i of [p, p + size) is present or swapped, 0 if it was
 * never touched. 0, or -1 if the kernel does not say (then assume all are). */
int mem_touched_pages(const uint8_t *p, uint64_t size, uint8_t *map);
#endif
