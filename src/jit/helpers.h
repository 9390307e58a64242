/* What translated code calls on its slow paths: guest memory accesses the
 * inline TLB lookup could not do (TLB miss, MMIO, misaligned, faults). */
#ifndef VMON_JIT_HELPERS_H
#define VMON_JIT_HELPERS_H
#include <stdint.h>

struct hart;

#define JIT_LOAD_SX    0x10 /* info flag: sign-extend the loaded value */
#define JIT_STORE_EXIT 2    /* the store is done; leave translated code */

/* Load size (info & 0xf) bytes at guest va for the instruction at pc. On a
 * fault the hart takes the trap and h->jit_fault is set. */
uint64_t jit_load_slow(struct hart *h, uint64_t va, uint64_t pc, unsigned info);
/* Store: 0 done, 1 fault (trap taken), JIT_STORE_EXIT done but the hart
 * must look up (an interrupt raised, translated code overwritten). */
int jit_store_slow(struct hart *h, uint64_t va, uint64_t val, uint64_t pc, unsigned size);
/* LR, SC or an AMO (the decoded instruction d) at va with rs2's value
 * src: rd's new value; on a fault the hart takes the trap and
 * h->jit_fault is set. */
struct insn;
uint64_t jit_amo_slow(struct hart *h, uint64_t va, uint64_t src, uint64_t pc, const struct insn *d);
/* A CSR instruction d with rs1's value src, left = instructions of the
 * budget not yet retired (r13 plus the rest of the block), so that
 * instret and cycle read exactly: returns rd's value; on an illegal
 * instruction the hart takes the trap and h->jit_fault is set. */
uint64_t jit_csr_slow(struct hart *h, uint64_t src, uint64_t pc, int64_t left,
                      const struct insn *d);
/* An F/D computation by the FP library (hart_fp_exec), for an operation
 * without a fast path or whose fast path's checks failed; the host's
 * exception flags are cleared (translated code reads the inexact one). */
int jit_fp_slow(struct hart *h, const struct insn *d);
#endif
