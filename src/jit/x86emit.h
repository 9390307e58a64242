/* vmon's x86-64 machine-code emitter (Intel SDM vol. 2: REX prefixes,
 * ModRM/SIB, the encodings of each instruction used). Instructions are
 * appended to a buffer; running out of room sets `overflow` and stops
 * writing, so a translator checks once at the end. Only the 64-bit general
 * registers and the forms the translator needs are covered. */
#ifndef VMON_X86EMIT_H
#define VMON_X86EMIT_H
#include <stddef.h>
#include <stdint.h>

enum x86emit_reg {
    X86_RAX,
    X86_RCX,
    X86_RDX,
    X86_RBX,
    X86_RSP,
    X86_RBP,
    X86_RSI,
    X86_RDI,
    X86_R8,
    X86_R9,
    X86_R10,
    X86_R11,
    X86_R12,
    X86_R13,
    X86_R14,
    X86_R15,
};

/* Group-1 ALU operations: the /digit of opcodes 0x81/0x83 and the base of
 * the register forms (op << 3 | 1). */
enum x86_alu { X86_ADD = 0, X86_OR = 1, X86_AND = 4, X86_SUB = 5, X86_XOR = 6, X86_CMP = 7 };
/* Group-2 shifts: the /digit of 0xc1 / 0xd3. */
enum x86_shift { X86_SHL = 4, X86_SHR = 5, X86_SAR = 7 };
/* Condition codes (the low nibble of Jcc/SETcc). */
enum x86_cc {
    X86_CC_B = 2,
    X86_CC_AE = 3,
    X86_CC_E = 4,
    X86_CC_NE = 5,
    X86_CC_L = 12,
    X86_CC_GE = 13
};

struct x86buf {
    uint8_t *p;
    size_t len, cap;
    int overflow;
};

void x86_init(struct x86buf *b, uint8_t *mem, size_t cap);

void x86_mov_rr(struct x86buf *b, int dst, int src);      /* mov dst, src (64) */
void x86_mov_ri(struct x86buf *b, int dst, uint64_t imm); /* shortest of mov r32/imm32 sx/movabs */
void x86_load(struct x86buf *b, int dst, int base, int32_t disp);         /* mov dst, [base+disp] */
void x86_store(struct x86buf *b, int base, int32_t disp, int src);        /* mov [base+disp], src */
void x86_alu_rr(struct x86buf *b, enum x86_alu op, int dst, int src);     /* op dst, src */
void x86_alu_ri(struct x86buf *b, enum x86_alu op, int dst, int32_t imm); /* op dst, imm (sx) */
void x86_shift_ri(struct x86buf *b, enum x86_shift op, int dst, uint8_t n);
void x86_shift_cl(struct x86buf *b, enum x86_shift op, int dst);              /* op dst, cl */
void x86_shift32_ri(struct x86buf *b, enum x86_shift op, int dst, uint8_t n); /* 32-bit */
void x86_shift32_cl(struct x86buf *b, enum x86_shift op, int dst);
void x86_alu32_rr(struct x86buf *b, enum x86_alu op, int dst, int src); /* 32-bit forms */
void x86_movsxd(struct x86buf *b, int dst, int src);       /* dst = sign-extended low 32 of src */
void x86_imul_rr(struct x86buf *b, int dst, int src);      /* imul dst, src (64) */
void x86_setcc(struct x86buf *b, enum x86_cc cc, int dst); /* dst = cc ? 1 : 0 (zero-extended) */
void x86_ret(struct x86buf *b);

/* Disassembly of an emitted buffer needs no support here: tests use
 * capstone to check every encoding. */
#endif
