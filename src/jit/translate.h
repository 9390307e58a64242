/* The translator: decoded blocks of RV64GC code (integer arithmetic, M,
 * loads and stores, branches, JAL/JALR, FENCE, A through hart_amo, F/D on
 * SSE where exact and through hart_fp_exec otherwise, CSRs through
 * hart_csr_op) to x86-64 in a hart's code cache. A block's translation
 * covers its instructions up to the first the translator does not handle;
 * execution then leaves the native code there and the interpreter runs on
 * (xRET, WFI, ECALL, EBREAK, SFENCE.VMA, FENCE.I).
 *
 * Translated code is independent of the virtual address it runs at (the
 * block's pc is in a register) and of the privilege (the data TLB is in a
 * register), like the decoded blocks it is made from, which are cached by
 * physical address. Conventions inside translated code:
 *   rbp  the struct hart           r12  guest pc of the running block
 *   r13  instructions left (budget)
 *   rbx r15 r14 rsi rdi r8-r11  guest registers cached within a block
 *   rax rcx rdx  scratch
 * (the data TLB of the run is h->jit_tlbd)
 * A block begins by checking h->events and charging its instruction count
 * to r13; every exit writes back the registers it changed, refunds the
 * instructions it did not run and stores the next pc in h->pc. Direct
 * branches to the same guest page are chained: the exit first returns to
 * the dispatcher, which patches the jump once the target is translated. */
#ifndef VMON_JIT_TRANSLATE_H
#define VMON_JIT_TRANSLATE_H
#include "cpu/hart.h"
#include "jit/x86emit.h"

/* Emit the entry/exit trampoline at the start of an empty cache (after
 * jit_cache_init and every flush). */
void jit_cache_start(struct jit_cache *c);
/* Translate block b into c. Returns the cache offset of its entry (and in
 * *count how many of b's instructions it covers), or 0 when its first
 * instruction is not translatable (or the cache is full). page: the host
 * bytes of b's guest page (or NULL), from which a loop's out-of-line
 * tails and a trace (the code a final JAL goes to) are decoded; regs: the
 * guest's integer registers now (or NULL), values a loop's translation may
 * specialize on (checked at its entry); tlbd: the data TLB's read table
 * now (or NULL), from which a load's first expected addend is taken. */
struct tlb_entry;
uint32_t jit_translate_block(struct jit_cache *c, const struct block *b, const uint8_t *page,
                             const uint64_t *regs, const struct tlb_entry *tlbd, unsigned *count);
/* The trace of the last block translated (decoded instructions, offsets
 * from its pc): how many, and where they are (valid until the next). */
unsigned jit_last_trace(const struct jit_cache *c, const struct iinsn **ins);
/* Run translated code from entry at guest pc with budget instructions;
 * returns the budget left. */
int64_t jit_enter(struct hart *h, uint64_t pc, int64_t budget, uint32_t entry);
/* Chain: point the jump whose displacement is at rx address `site` to
 * the entry of a block (past its look at events for a forward jump). */
void jit_link(struct jit_cache *c, uint64_t site, uint32_t entry, int forward);
/* Does the translator cover this operation? */
int jit_covers(unsigned op);
#endif
