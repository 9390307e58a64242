/* Developers' view of the translator (vmon run --jit-dump FILE). */
#ifndef VMON_JIT_DUMP_H
#define VMON_JIT_DUMP_H
#include "cpu/hart.h"
#include <stdio.h>

/* Block b's first `translated` instructions, then the ntrace of its trace
 * (offsets from b's pc), and their code (len bytes, running at
 * host_addr). */
void jit_dump_block(FILE *f, const struct block *b, unsigned translated, const struct iinsn *trace,
                    unsigned ntrace, const uint8_t *code, size_t len, uint64_t host_addr);
#endif
