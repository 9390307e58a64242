/* x86-64 encodings (Intel SDM vol. 2, chapter 2: REX, ModRM, SIB). */
#include "jit/x86emit.h"
#include <string.h>

void x86_init(struct x86buf *b, uint8_t *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = 0;
    b->exec = 0;
}

static void put(struct x86buf *b, const uint8_t *bytes, size_t n)
{
    if (b->overflow || b->len + n > b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, bytes, n);
    b->len += n;
}

static void put1(struct x86buf *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put4(struct x86buf *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, le, 4);
}

/* REX prefix: W (64-bit operand), R (ModRM.reg high bit), B (rm/base high
 * bit); force emits a plain 0x40 (needed to reach SPL..DIL as bytes). */
static void rex(struct x86buf *b, int w, int reg, int rm, int force)
{
    uint8_t r = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0));
    if (r != 0x40 || force) put1(b, r);
}

static void modrm_rr(struct x86buf *b, int reg, int rm)
{
    put1(b, (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7)));
}

/* ModRM (+SIB, +displacement) for [base + disp]. */
static void modrm_mem(struct x86buf *b, int reg, int base, int32_t disp)
{
    int mod = disp == 0 && (base & 7) != 5 ? 0 : disp >= -128 && disp <= 127 ? 1 : 2;
    put1(b, (uint8_t)((mod << 6) | ((reg & 7) << 3) | (base & 7)));
    if ((base & 7) == 4) put1(b, 0x24); /* SIB: no index, base = rsp/r12 */
    if (mod == 1) put1(b, (uint8_t)(int8_t)disp);
    if (mod == 2) put4(b, (uint32_t)disp);
}

void x86_mov_rr(struct x86buf *b, int dst, int src)
{
    rex(b, 1, src, dst, 0);
    put1(b, 0x89);
    modrm_rr(b, src, dst);
}

void x86_mov_ri(struct x86buf *b, int dst, uint64_t imm)
{
    if (imm <= 0xffffffffull) { /* mov r32, imm32 zero-extends */
        rex(b, 0, 0, dst, 0);
        put1(b, (uint8_t)(0xb8 + (dst & 7)));
        put4(b, (uint32_t)imm);
    } else if ((int64_t)imm == (int32_t)imm) { /* mov r/m64, imm32 sign-extends */
        rex(b, 1, 0, dst, 0);
        put1(b, 0xc7);
        modrm_rr(b, 0, dst);
        put4(b, (uint32_t)imm);
    } else { /* movabs */
        rex(b, 1, 0, dst, 0);
        put1(b, (uint8_t)(0xb8 + (dst & 7)));
        put4(b, (uint32_t)imm);
        put4(b, (uint32_t)(imm >> 32));
    }
}

void x86_load(struct x86buf *b, int dst, int base, int32_t disp)
{
    rex(b, 1, dst, base, 0);
    put1(b, 0x8b);
    modrm_mem(b, dst, base, disp);
}

void x86_store(struct x86buf *b, int base, int32_t disp, int src)
{
    rex(b, 1, src, base, 0);
    put1(b, 0x89);
    modrm_mem(b, src, base, disp);
}

static void alu_rr(struct x86buf *b, int w, enum x86_alu op, int dst, int src)
{
    rex(b, w, src, dst, 0);
    put1(b, (uint8_t)((op << 3) | 1));
    modrm_rr(b, src, dst);
}

void x86_alu_rr(struct x86buf *b, enum x86_alu op, int dst, int src)
{
    alu_rr(b, 1, op, dst, src);
}

void x86_alu32_rr(struct x86buf *b, enum x86_alu op, int dst, int src)
{
    alu_rr(b, 0, op, dst, src);
}

void x86_alu_ri(struct x86buf *b, enum x86_alu op, int dst, int32_t imm)
{
    rex(b, 1, 0, dst, 0);
    if (imm >= -128 && imm <= 127) {
        put1(b, 0x83);
        modrm_rr(b, op, dst);
        put1(b, (uint8_t)(int8_t)imm);
    } else {
        put1(b, 0x81);
        modrm_rr(b, op, dst);
        put4(b, (uint32_t)imm);
    }
}

static void shift_ri(struct x86buf *b, int w, enum x86_shift op, int dst, uint8_t n)
{
    rex(b, w, 0, dst, 0);
    put1(b, 0xc1);
    modrm_rr(b, op, dst);
    put1(b, n);
}

static void shift_cl(struct x86buf *b, int w, enum x86_shift op, int dst)
{
    rex(b, w, 0, dst, 0);
    put1(b, 0xd3);
    modrm_rr(b, op, dst);
}

void x86_shift_ri(struct x86buf *b, enum x86_shift op, int dst, uint8_t n)
{
    shift_ri(b, 1, op, dst, n & 63);
}

void x86_shift_cl(struct x86buf *b, enum x86_shift op, int dst)
{
    shift_cl(b, 1, op, dst);
}

void x86_shift32_ri(struct x86buf *b, enum x86_shift op, int dst, uint8_t n)
{
    shift_ri(b, 0, op, dst, n & 31);
}

void x86_shift32_cl(struct x86buf *b, enum x86_shift op, int dst)
{
    shift_cl(b, 0, op, dst);
}

void x86_movsxd(struct x86buf *b, int dst, int src)
{
    rex(b, 1, dst, src, 0);
    put1(b, 0x63);
    modrm_rr(b, dst, src);
}

void x86_imul_rr(struct x86buf *b, int dst, int src)
{
    rex(b, 1, dst, src, 0);
    put1(b, 0x0f);
    put1(b, 0xaf);
    modrm_rr(b, dst, src);
}

void x86_setcc(struct x86buf *b, enum x86_cc cc, int dst)
{
    rex(b, 0, 0, dst, dst >= 4); /* SPL..DIL need a REX to be bytes */
    put1(b, 0x0f);
    put1(b, (uint8_t)(0x90 | cc));
    modrm_rr(b, 0, dst);
    rex(b, 0, dst, dst, dst >= 4); /* movzx dst32, dst8 */
    put1(b, 0x0f);
    put1(b, 0xb6);
    modrm_rr(b, dst, dst);
}

void x86_ret(struct x86buf *b)
{
    put1(b, 0xc3);
}

/* ModRM (+SIB, +displacement) for a general memory operand. */
static void modrm_m(struct x86buf *b, int reg, struct x86mem m)
{
    if (m.base == X86_XREG) {
        modrm_rr(b, reg, m.disp);
        return;
    }
    if (m.base == X86_RIP) {
        put1(b, (uint8_t)(((reg & 7) << 3) | 5));
        uint64_t next = (b->exec ? b->exec : (uint64_t)(uintptr_t)b->p) + b->len + 4;
        put4(b, (uint32_t)(int32_t)(int64_t)(m.abs - next));
        return;
    }
    if (m.index < 0) {
        modrm_mem(b, reg, m.base, m.disp);
        return;
    }
    int mod = m.disp == 0 && (m.base & 7) != 5 ? 0 : m.disp >= -128 && m.disp <= 127 ? 1 : 2;
    int ss = m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0;
    put1(b, (uint8_t)((mod << 6) | ((reg & 7) << 3) | 4));
    put1(b, (uint8_t)((ss << 6) | ((m.index & 7) << 3) | (m.base & 7)));
    if (mod == 1) put1(b, (uint8_t)(int8_t)m.disp);
    if (mod == 2) put4(b, (uint32_t)m.disp);
}

/* REX for a memory operand: X extends the index. */
static void rex_m(struct x86buf *b, int w, int reg, struct x86mem m, int force)
{
    int base_hi = m.base == X86_XREG ? (m.disp & 8) != 0 : m.base != X86_RIP && (m.base & 8);
    uint8_t r = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) |
                          (m.index >= 0 && (m.index & 8) ? 2 : 0) | (base_hi ? 1 : 0));
    if (r != 0x40 || force) put1(b, r);
}

void x86_ld(struct x86buf *b, unsigned size, int sx, int dst, struct x86mem m)
{
    switch (size) {
    case 1:
    case 2:
        rex_m(b, sx, dst, m, 0);
        put1(b, 0x0f);
        put1(b, (uint8_t)((sx ? 0xbe : 0xb6) | (size == 2)));
        break;
    case 4:
        rex_m(b, sx, dst, m, 0);
        put1(b, sx ? 0x63 : 0x8b); /* movsxd, or mov r32 (zero-extends) */
        break;
    default:
        rex_m(b, 1, dst, m, 0);
        put1(b, 0x8b);
        break;
    }
    modrm_m(b, dst, m);
}

void x86_st(struct x86buf *b, unsigned size, struct x86mem m, int src)
{
    if (size == 2) put1(b, 0x66);
    rex_m(b, size == 8, src, m, size == 1 && src >= 4);
    put1(b, size == 1 ? 0x88 : 0x89);
    modrm_m(b, src, m);
}

void x86_lea(struct x86buf *b, int dst, struct x86mem m)
{
    rex_m(b, 1, dst, m, 0);
    put1(b, 0x8d);
    modrm_m(b, dst, m);
}

void x86_alu_rm(struct x86buf *b, enum x86_alu op, int dst, struct x86mem m)
{
    rex_m(b, 1, dst, m, 0);
    put1(b, (uint8_t)((op << 3) | 3));
    modrm_m(b, dst, m);
}

void x86_alu32_mi(struct x86buf *b, enum x86_alu op, struct x86mem m, int32_t imm)
{
    rex_m(b, 0, 0, m, 0);
    if (imm >= -128 && imm <= 127) {
        put1(b, 0x83);
        modrm_m(b, op, m);
        put1(b, (uint8_t)(int8_t)imm);
    } else {
        put1(b, 0x81);
        modrm_m(b, op, m);
        put4(b, (uint32_t)imm);
    }
}

void x86_cmp32_mi(struct x86buf *b, struct x86mem m, int32_t imm)
{
    x86_alu32_mi(b, X86_CMP, m, imm);
}

void x86_test32_mi(struct x86buf *b, struct x86mem m, uint32_t imm)
{
    rex_m(b, 0, 0, m, 0);
    put1(b, 0xf7);
    modrm_m(b, 0, m);
    put4(b, imm);
}

void x86_alu32_ri(struct x86buf *b, enum x86_alu op, int dst, int32_t imm)
{
    rex(b, 0, 0, dst, 0);
    if (imm >= -128 && imm <= 127) {
        put1(b, 0x83);
        modrm_rr(b, op, dst);
        put1(b, (uint8_t)(int8_t)imm);
    } else {
        put1(b, 0x81);
        modrm_rr(b, op, dst);
        put4(b, (uint32_t)imm);
    }
}

void x86_mov32_rr(struct x86buf *b, int dst, int src)
{
    rex(b, 0, src, dst, 0);
    put1(b, 0x89);
    modrm_rr(b, src, dst);
}

void x86_test_rr(struct x86buf *b, int a, int c)
{
    rex(b, 1, c, a, 0);
    put1(b, 0x85);
    modrm_rr(b, c, a);
}

void x86_cmov(struct x86buf *b, enum x86_cc cc, int dst, int src)
{
    rex(b, 1, dst, src, 0);
    put1(b, 0x0f);
    put1(b, (uint8_t)(0x40 | cc));
    modrm_rr(b, dst, src);
}

void x86_neg(struct x86buf *b, int r)
{
    rex(b, 1, 0, r, 0);
    put1(b, 0xf7);
    modrm_rr(b, 3, r);
}

void x86_muldiv(struct x86buf *b, int w64, enum x86_muldiv op, int src)
{
    rex(b, w64, 0, src, 0);
    put1(b, 0xf7);
    modrm_rr(b, op, src);
}

void x86_cqo(struct x86buf *b)
{
    put1(b, 0x48);
    put1(b, 0x99);
}

void x86_cdq(struct x86buf *b)
{
    put1(b, 0x99);
}

void x86_imul32_rr(struct x86buf *b, int dst, int src)
{
    rex(b, 0, dst, src, 0);
    put1(b, 0x0f);
    put1(b, 0xaf);
    modrm_rr(b, dst, src);
}

void x86_push(struct x86buf *b, int r)
{
    rex(b, 0, 0, r, 0);
    put1(b, (uint8_t)(0x50 + (r & 7)));
}

void x86_pop(struct x86buf *b, int r)
{
    rex(b, 0, 0, r, 0);
    put1(b, (uint8_t)(0x58 + (r & 7)));
}

void x86_mfence(struct x86buf *b)
{
    const uint8_t op[3] = {0x0f, 0xae, 0xf0};
    put(b, op, 3);
}

void x86_stmxcsr(struct x86buf *b, struct x86mem m)
{
    rex_m(b, 0, 0, m, 0);
    put1(b, 0x0f);
    put1(b, 0xae);
    modrm_m(b, 3, m);
}

void x86_call_r(struct x86buf *b, int r)
{
    rex(b, 0, 0, r, 0);
    put1(b, 0xff);
    modrm_rr(b, 2, r);
}

void x86_jmp_r(struct x86buf *b, int r)
{
    rex(b, 0, 0, r, 0);
    put1(b, 0xff);
    modrm_rr(b, 4, r);
}

size_t x86_jmp32(struct x86buf *b)
{
    put1(b, 0xe9);
    size_t at = b->len;
    put4(b, 0);
    return at;
}

size_t x86_call32(struct x86buf *b)
{
    put1(b, 0xe8);
    size_t at = b->len;
    put4(b, 0);
    return at;
}

size_t x86_jcc32(struct x86buf *b, enum x86_cc cc)
{
    put1(b, 0x0f);
    put1(b, (uint8_t)(0x80 | cc));
    size_t at = b->len;
    put4(b, 0);
    return at;
}

void x86_patch(struct x86buf *b, size_t at, size_t target)
{
    if (b->overflow || at + 4 > b->len) return;
    uint32_t rel = (uint32_t)((int64_t)target - (int64_t)(at + 4));
    uint8_t le[4] = {(uint8_t)rel, (uint8_t)(rel >> 8), (uint8_t)(rel >> 16), (uint8_t)(rel >> 24)};
    memcpy(b->p + at, le, 4);
}

int32_t x86_rel32(const uint8_t *at, const uint8_t *target)
{
    return (int32_t)(target - (at + 4));
}

void x86_int3(struct x86buf *b)
{
    put1(b, 0xcc);
}

void x86_sse_ld(struct x86buf *b, int dbl, int xmm, struct x86mem m)
{
    if (m.base == X86_XREG) { /* a copy: movaps, which renaming makes free */
        rex_m(b, 0, xmm, m, 0);
        put1(b, 0x0f);
        put1(b, 0x28);
        modrm_m(b, xmm, m);
        return;
    }
    put1(b, dbl ? 0xf3 : 0x66);
    rex_m(b, 0, xmm, m, 0);
    put1(b, 0x0f);
    put1(b, dbl ? 0x7e : 0x6e);
    modrm_m(b, xmm, m);
}

void x86_sse_op(struct x86buf *b, int dbl, enum x86_sse op, int xmm, struct x86mem m)
{
    put1(b, dbl ? 0xf2 : 0xf3);
    rex_m(b, 0, xmm, m, 0);
    put1(b, 0x0f);
    put1(b, (uint8_t)op);
    modrm_m(b, xmm, m);
}

void x86_sse_to_gpr(struct x86buf *b, int dbl, int dst, int xmm)
{
    put1(b, 0x66);
    rex(b, dbl, xmm, dst, 0);
    put1(b, 0x0f);
    put1(b, 0x7e);
    modrm_rr(b, xmm, dst);
}

void x86_gpr_to_sse(struct x86buf *b, int xmm, int src)
{
    put1(b, 0x66);
    rex(b, 1, xmm, src, 0);
    put1(b, 0x0f);
    put1(b, 0x6e);
    modrm_rr(b, xmm, src);
}

/* 66 [REX] 0F op /r between two xmm registers. */
static void sse66_rr(struct x86buf *b, uint8_t op, int dst, int src)
{
    put1(b, 0x66);
    rex(b, 0, dst, src, 0);
    put1(b, 0x0f);
    put1(b, op);
    modrm_rr(b, dst, src);
}

void x86_pcmpeqd(struct x86buf *b, int dst, int src)
{
    sse66_rr(b, 0x76, dst, src);
}

void x86_xorps(struct x86buf *b, int dst, int src)
{
    rex(b, 0, dst, src, 0);
    put1(b, 0x0f);
    put1(b, 0x57);
    modrm_rr(b, dst, src);
}

void x86_punpckldq(struct x86buf *b, int dst, int src)
{
    sse66_rr(b, 0x62, dst, src);
}

void x86_sse_st(struct x86buf *b, struct x86mem m, int xmm)
{
    put1(b, 0x66);
    rex_m(b, 0, xmm, m, 0);
    put1(b, 0x0f);
    put1(b, 0xd6);
    modrm_m(b, xmm, m);
}

void x86_cvt_i2f(struct x86buf *b, int dbl, int w64, int xmm, int src)
{
    put1(b, dbl ? 0xf2 : 0xf3);
    rex(b, w64, xmm, src, 0);
    put1(b, 0x0f);
    put1(b, 0x2a);
    modrm_rr(b, xmm, src);
}

void x86_cvt_f2i(struct x86buf *b, int dbl, int w64, int trunc, int dst, struct x86mem m)
{
    put1(b, dbl ? 0xf2 : 0xf3);
    rex_m(b, w64, dst, m, 0);
    put1(b, 0x0f);
    put1(b, trunc ? 0x2c : 0x2d);
    modrm_m(b, dst, m);
}

/* VEX.LIG.66.0F38.W(dbl) op /r with ModRM.reg = xmm0, VEX.vvvv = xmm1. */
void x86_vfma213(struct x86buf *b, int dbl, enum x86_fma op, struct x86mem m)
{
    int base_hi = m.base == X86_XREG ? m.disp & 8 : m.base & 8;
    uint8_t r1 =
        (uint8_t)(0x80 | (m.index >= 0 && (m.index & 8) ? 0 : 0x40) | (base_hi ? 0 : 0x20) | 0x02);
    uint8_t r2 = (uint8_t)((dbl ? 0x80 : 0) | ((~1u & 0xf) << 3) | 0x01);
    put1(b, 0xc4);
    put1(b, r1);
    put1(b, r2);
    put1(b, (uint8_t)op);
    modrm_m(b, 0, m);
}

void x86_ucomis(struct x86buf *b, int dbl, int xmm, struct x86mem m)
{
    if (dbl) put1(b, 0x66);
    rex_m(b, 0, xmm, m, 0);
    put1(b, 0x0f);
    put1(b, 0x2e);
    modrm_m(b, xmm, m);
}

void x86_jmp_m(struct x86buf *b, struct x86mem m)
{
    rex_m(b, 0, 0, m, 0);
    put1(b, 0xff);
    modrm_m(b, 4, m);
}
