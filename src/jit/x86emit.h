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
    X86_CC_O = 0,
    X86_CC_B = 2,
    X86_CC_AE = 3,
    X86_CC_E = 4,
    X86_CC_NE = 5,
    X86_CC_BE = 6,
    X86_CC_A = 7,
    X86_CC_S = 8,
    X86_CC_L = 12,
    X86_CC_GE = 13,
    X86_CC_LE = 14,
    X86_CC_G = 15
};

/* A memory operand [base + index*scale + disp]; index -1 for none. With
 * base X86_RIP it is [rip + disp32] reaching the absolute address abs (the
 * instruction must end with the displacement: no immediate after it). */
#define X86_RIP (-2)
struct x86mem {
    int base, index, scale;
    int32_t disp;
    uint64_t abs;
};
#define X86_ABS(a) ((struct x86mem){X86_RIP, -1, 1, 0, (a)})
/* An xmm register where an SSE instruction takes xmm/m (ModRM mod 11):
 * for x86_sse_ld, x86_sse_op, x86_ucomis, x86_cvt_f2i and x86_vfma213. */
#define X86_XREG             (-3)
#define X86_XMM(x)           ((struct x86mem){X86_XREG, -1, 1, (x)})
#define X86_MEM(b, d)        ((struct x86mem){(b), -1, 1, (d)})
#define X86_MEMX(b, i, s, d) ((struct x86mem){(b), (i), (s), (d)})

struct x86buf {
    uint8_t *p;
    size_t len, cap;
    int overflow;
    uint64_t exec; /* where p[0] runs (RIP-relative operands), 0: at p */
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

/* Loads of 1, 2, 4 or 8 bytes into a 64-bit register, zero- or
 * sign-extended (sx); stores of the low size bytes of src. */
void x86_ld(struct x86buf *b, unsigned size, int sx, int dst, struct x86mem m);
void x86_st(struct x86buf *b, unsigned size, struct x86mem m, int src);
void x86_lea(struct x86buf *b, int dst, struct x86mem m);
void x86_alu_rm(struct x86buf *b, enum x86_alu op, int dst, struct x86mem m); /* op dst, [m] */
void x86_cmp32_mi(struct x86buf *b, struct x86mem m, int32_t imm); /* cmp dword [m], imm */
void x86_alu32_mi(struct x86buf *b, enum x86_alu op, struct x86mem m, int32_t imm);
void x86_test32_mi(struct x86buf *b, struct x86mem m, uint32_t imm); /* test dword [m], imm */
void x86_alu32_ri(struct x86buf *b, enum x86_alu op, int dst, int32_t imm);
void x86_mov32_rr(struct x86buf *b, int dst, int src); /* mov dst32, src32 (zero-extends) */
void x86_test_rr(struct x86buf *b, int a, int c);      /* test a, c (64) */
void x86_cmov(struct x86buf *b, enum x86_cc cc, int dst, int src); /* cmovcc dst, src (64) */
void x86_neg(struct x86buf *b, int r);
/* One-operand multiply and divide on rdx:rax (w64 = 0 for the 32-bit forms). */
enum x86_muldiv { X86_MUL = 4, X86_IMUL1 = 5, X86_DIV = 6, X86_IDIV = 7 };
void x86_muldiv(struct x86buf *b, int w64, enum x86_muldiv op, int src);
void x86_cqo(struct x86buf *b); /* rdx = sign of rax */
void x86_cdq(struct x86buf *b); /* edx = sign of eax */
void x86_imul32_rr(struct x86buf *b, int dst, int src);
void x86_push(struct x86buf *b, int r);
void x86_pop(struct x86buf *b, int r);
void x86_mfence(struct x86buf *b);
void x86_stmxcsr(struct x86buf *b, struct x86mem m); /* stmxcsr [m] */
void x86_int3(struct x86buf *b);

/* Scalar SSE2 on xmm0..xmm15 (dbl: sd forms, else ss forms). */
enum x86_sse {
    X86_SQRT = 0x51,
    X86_FADD = 0x58,
    X86_FMUL = 0x59,
    X86_FSUB = 0x5c,
    X86_FDIV = 0x5e
};
/* movq/movd xmm, [m]; from another xmm, movaps (the upper half of an xmm
 * register is never looked at). */
void x86_sse_ld(struct x86buf *b, int dbl, int xmm, struct x86mem m);
void x86_sse_op(struct x86buf *b, int dbl, enum x86_sse op, int xmm,
                struct x86mem m);                                 /* op xmm, [m] */
void x86_sse_to_gpr(struct x86buf *b, int dbl, int dst, int xmm); /* movq r64 / movd r32, xmm */
void x86_gpr_to_sse(struct x86buf *b, int xmm, int src);          /* movq xmm, r64 */
void x86_sse_st(struct x86buf *b, struct x86mem m, int xmm);      /* movq [m], xmm */
void x86_pcmpeqd(struct x86buf *b, int dst, int src);             /* pcmpeqd xmm, xmm */
void x86_punpckldq(struct x86buf *b, int dst, int src);
/* xorps xmm, xmm: with dst == src a zero that depends on nothing, before
 * an instruction that keeps the rest of its destination (cvtsi2sd, sqrtsd)
 * and would otherwise wait for whatever wrote it last */
void x86_xorps(struct x86buf *b, int dst, int src);                   /* punpckldq xmm, xmm */
void x86_ucomis(struct x86buf *b, int dbl, int xmm, struct x86mem m); /* ucomisd/ss xmm, [m] */
/* cvtsi2sd/ss xmm, r32/r64 (w64: a 64-bit source). */
void x86_cvt_i2f(struct x86buf *b, int dbl, int w64, int xmm, int src);
/* cvt[t]sd/ss2si r32/r64, [m] (trunc: round toward zero). */
void x86_cvt_f2i(struct x86buf *b, int dbl, int w64, int trunc, int dst, struct x86mem m);
/* FMA3, 213 form: xmm0 = xmm1 * xmm0 +/- [m], negated product with neg. */
enum x86_fma { X86_VFMADD = 0xa9, X86_VFMSUB = 0xab, X86_VFNMADD = 0xad, X86_VFNMSUB = 0xaf };
void x86_vfma213(struct x86buf *b, int dbl, enum x86_fma op, struct x86mem m);
void x86_call_r(struct x86buf *b, int r);          /* call r */
void x86_jmp_r(struct x86buf *b, int r);           /* jmp r */
void x86_jmp_m(struct x86buf *b, struct x86mem m); /* jmp qword ptr [m] */
/* Relative jumps with a 32-bit displacement: they return the offset of the
 * displacement in the buffer, for x86_patch. */
size_t x86_jmp32(struct x86buf *b);
size_t x86_call32(struct x86buf *b); /* call rel32, patched like a jump */
size_t x86_jcc32(struct x86buf *b, enum x86_cc cc);
/* Point the displacement at offset `at` (from x86_jmp32/x86_jcc32) to the
 * buffer offset `target`. */
void x86_patch(struct x86buf *b, size_t at, size_t target);
/* The 32-bit displacement of a jump at host address `at` to `target`. */
int32_t x86_rel32(const uint8_t *at, const uint8_t *target);

/* Disassembly of an emitted buffer needs no support here: tests use
 * capstone to check every encoding. */
#endif
