/* RV64C: expansion of 16-bit compressed instructions into their 32-bit
 * equivalents (unprivileged spec chapter 16, "C" standard extension). */
#ifndef VMON_RVC_H
#define VMON_RVC_H
#include <stdint.h>

/* The 32-bit instruction that c stands for, or 0 when c is illegal or
 * reserved (0 is itself an illegal 32-bit encoding). HINT encodings expand to
 * their base instruction, whose effect is architecturally none. */
uint32_t rvc_expand(uint16_t c);
#endif
