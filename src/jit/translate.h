/* The translator (first part): straight-line RV64I/M integer blocks to
 * x86-64. A translated block is a function void f(uint64_t *x) over the
 * hart's register file; x0 reads are zeros and writes to it are dropped at
 * translation time. Everything else (memory, control flow, CSRs, FP) is
 * still the interpreter's: translation stops at the first instruction it
 * does not cover. */
#ifndef VMON_JIT_TRANSLATE_H
#define VMON_JIT_TRANSLATE_H
#include "cpu/decode.h"
#include "jit/x86emit.h"

/* Does the translator cover this operation? */
int jit_covers(unsigned op);
/* Translate ins[0..n) (the first at guest pc, the others following it) into
 * b, ending with a return. Returns how many instructions it translated
 * (stopping at the first it does not cover), or -1 if b overflowed. */
int jit_translate(const struct insn *ins, unsigned n, uint64_t pc, struct x86buf *b);
#endif
