/* The translator's first part: every encoding of the x86-64 emitter checked
 * against capstone's disassembly, and a differential test: random blocks of
 * the integer instructions the translator covers, run by the interpreter
 * and as translated code from the same registers, must leave every register
 * the same. The code buffer is never writable and executable at once. */
#include "check.h"
#include "jit/translate.h"
#include "board/virt.h"
#include "vmm/vm.h"
#include <capstone/capstone.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static struct check_ctx c;
static csh cs;

/* Disassemble b and compare with want ("a; b; c"). */
static void expect_asm(const char *what, struct x86buf *b, const char *want)
{
    cs_insn *ins;
    size_t n = cs_disasm(cs, b->p, b->len, 0x1000, 0, &ins);
    char got[512] = "";
    size_t used = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s%s%s", i ? "; " : "",
                                 ins[i].mnemonic, ins[i].op_str[0] ? " " : "", ins[i].op_str);
        bytes += ins[i].size;
    }
    if (n) cs_free(ins, n);
    CHECK(&c, !strcmp(got, want) && bytes == b->len, "%s: got '%s' (%zu of %zu bytes), want '%s'",
          what, got, bytes, b->len, want);
}

#define ASM(what, want, ...)                                                                       \
    do {                                                                                           \
        x86_init(&b, mem, sizeof(mem));                                                            \
        __VA_ARGS__;                                                                               \
        expect_asm(what, &b, want);                                                                \
    } while (0)

static void test_encodings(void)
{
    uint8_t mem[256];
    struct x86buf b;
    ASM("mov rr", "mov rax, rbx", x86_mov_rr(&b, X86_RAX, X86_RBX));
    ASM("mov rr high", "mov r9, r15", x86_mov_rr(&b, X86_R9, X86_R15));
    ASM("mov imm32", "mov r9d, 5", x86_mov_ri(&b, X86_R9, 5));
    ASM("mov imm sx", "mov rax, -0x8000", x86_mov_ri(&b, X86_RAX, (uint64_t)-32768));
    ASM("movabs", "movabs rcx, 0x123456789a", x86_mov_ri(&b, X86_RCX, 0x123456789aull));
    ASM("load disp8", "mov rax, qword ptr [rdi + 8]", x86_load(&b, X86_RAX, X86_RDI, 8));
    ASM("load disp32", "mov rdx, qword ptr [rdi + 0x100]", x86_load(&b, X86_RDX, X86_RDI, 256));
    ASM("load rsp base", "mov rax, qword ptr [rsp]", x86_load(&b, X86_RAX, X86_RSP, 0));
    ASM("load r12 base", "mov r8, qword ptr [r12 + 0x10]", x86_load(&b, X86_R8, X86_R12, 16));
    ASM("load rbp base", "mov rax, qword ptr [rbp]", x86_load(&b, X86_RAX, X86_RBP, 0));
    ASM("load r13 base", "mov rax, qword ptr [r13 - 8]", x86_load(&b, X86_RAX, X86_R13, -8));
    ASM("store", "mov qword ptr [rdi + 0xf8], rax", x86_store(&b, X86_RDI, 248, X86_RAX));
    ASM("store high", "mov qword ptr [r14], r11", x86_store(&b, X86_R14, 0, X86_R11));
    ASM("add rr", "add rax, rcx", x86_alu_rr(&b, X86_ADD, X86_RAX, X86_RCX));
    ASM("sub rr", "sub r10, rsi", x86_alu_rr(&b, X86_SUB, X86_R10, X86_RSI));
    ASM("xor/or/and/cmp", "xor rax, rcx; or rax, rcx; and rax, rcx; cmp rax, rcx",
        x86_alu_rr(&b, X86_XOR, X86_RAX, X86_RCX);
        x86_alu_rr(&b, X86_OR, X86_RAX, X86_RCX); x86_alu_rr(&b, X86_AND, X86_RAX, X86_RCX);
        x86_alu_rr(&b, X86_CMP, X86_RAX, X86_RCX));
    ASM("add imm8", "add rax, 0x7f", x86_alu_ri(&b, X86_ADD, X86_RAX, 127));
    ASM("add imm8 negative", "add rax, -0x80", x86_alu_ri(&b, X86_ADD, X86_RAX, -128));
    ASM("and imm32", "and rdx, 0x800", x86_alu_ri(&b, X86_AND, X86_RDX, 2048));
    ASM("xor imm32 negative", "xor r9, 0xfffffffffffff800", x86_alu_ri(&b, X86_XOR, X86_R9, -2048));
    ASM("add32", "add eax, ecx", x86_alu32_rr(&b, X86_ADD, X86_RAX, X86_RCX));
    ASM("shl imm", "shl rax, 0x3f", x86_shift_ri(&b, X86_SHL, X86_RAX, 63));
    ASM("sar imm high", "sar r11, 1", x86_shift_ri(&b, X86_SAR, X86_R11, 1));
    ASM("shr cl", "shr rax, cl", x86_shift_cl(&b, X86_SHR, X86_RAX));
    ASM("shl32 imm", "shl eax, 0x1f", x86_shift32_ri(&b, X86_SHL, X86_RAX, 31));
    ASM("sar32 cl", "sar eax, cl", x86_shift32_cl(&b, X86_SAR, X86_RAX));
    ASM("movsxd", "movsxd rax, eax", x86_movsxd(&b, X86_RAX, X86_RAX));
    ASM("movsxd high", "movsxd r8, r9d", x86_movsxd(&b, X86_R8, X86_R9));
    ASM("imul", "imul rax, rcx", x86_imul_rr(&b, X86_RAX, X86_RCX));
    ASM("setl", "setl al; movzx eax, al", x86_setcc(&b, X86_CC_L, X86_RAX));
    ASM("setb sil", "setb sil; movzx esi, sil", x86_setcc(&b, X86_CC_B, X86_RSI));
    ASM("sete r10", "sete r10b; movzx r10d, r10b", x86_setcc(&b, X86_CC_E, X86_R10));
    ASM("ret", "ret", x86_ret(&b));
    ASM("ld8 zx", "movzx eax, byte ptr [rax]", x86_ld(&b, 1, 0, X86_RAX, X86_MEM(X86_RAX, 0)));
    ASM("ld8 sx", "movsx r9, byte ptr [rbx + 1]", x86_ld(&b, 1, 1, X86_R9, X86_MEM(X86_RBX, 1)));
    ASM("ld16 zx", "movzx eax, word ptr [r13]", x86_ld(&b, 2, 0, X86_RAX, X86_MEM(X86_R13, 0)));
    ASM("ld16 sx", "movsx rax, word ptr [rax]", x86_ld(&b, 2, 1, X86_RAX, X86_MEM(X86_RAX, 0)));
    ASM("ld32 zx", "mov eax, dword ptr [rax]", x86_ld(&b, 4, 0, X86_RAX, X86_MEM(X86_RAX, 0)));
    ASM("ld32 sx", "movsxd r11, dword ptr [r12]", x86_ld(&b, 4, 1, X86_R11, X86_MEM(X86_R12, 0)));
    ASM("ld64 sib", "mov rdx, qword ptr [rbp + rdx*8 + 0x1000]",
        x86_ld(&b, 8, 0, X86_RDX, X86_MEMX(X86_RBP, X86_RDX, 8, 0x1000)));
    ASM("st8 sil", "mov byte ptr [rax], sil", x86_st(&b, 1, X86_MEM(X86_RAX, 0), X86_RSI));
    ASM("st8 r9b", "mov byte ptr [rax], r9b", x86_st(&b, 1, X86_MEM(X86_RAX, 0), X86_R9));
    ASM("st16", "mov word ptr [rax], cx", x86_st(&b, 2, X86_MEM(X86_RAX, 0), X86_RCX));
    ASM("st32", "mov dword ptr [rax], r15d", x86_st(&b, 4, X86_MEM(X86_RAX, 0), X86_R15));
    ASM("st64", "mov qword ptr [rax], rbx", x86_st(&b, 8, X86_MEM(X86_RAX, 0), X86_RBX));
    ASM("lea", "lea r12, [r12 - 0xa4]", x86_lea(&b, X86_R12, X86_MEM(X86_R12, -0xa4)));
    ASM("cmp rm sib", "cmp rdx, qword ptr [r14 + rcx + 0x2000]",
        x86_alu_rm(&b, X86_CMP, X86_RDX, X86_MEMX(X86_R14, X86_RCX, 1, 0x2000)));
    ASM("add rm", "add rax, qword ptr [r14 + rcx + 8]",
        x86_alu_rm(&b, X86_ADD, X86_RAX, X86_MEMX(X86_R14, X86_RCX, 1, 8)));
    ASM("cmp32 mi", "cmp dword ptr [rbp + 0x388], 0", x86_cmp32_mi(&b, X86_MEM(X86_RBP, 0x388), 0));
    ASM("or32 mi", "or dword ptr [rbp + 0x10], 0x6000",
        x86_alu32_mi(&b, X86_OR, X86_MEM(X86_RBP, 0x10), 0x6000));
    ASM("test32 mi", "test dword ptr [rbp + 0x10], 0x6000",
        x86_test32_mi(&b, X86_MEM(X86_RBP, 0x10), 0x6000));
    ASM("alu32 ri", "and ecx, 0x1fe0", x86_alu32_ri(&b, X86_AND, X86_RCX, 0x1fe0));
    ASM("mov32", "mov eax, r8d", x86_mov32_rr(&b, X86_RAX, X86_R8));
    ASM("test", "test r10, r10", x86_test_rr(&b, X86_R10, X86_R10));
    ASM("cmov", "cmove rax, rcx", x86_cmov(&b, X86_CC_E, X86_RAX, X86_RCX));
    ASM("cmov high", "cmovb r13, r11", x86_cmov(&b, X86_CC_B, X86_R13, X86_R11));
    ASM("cmov low from high", "cmovae rsi, r8", x86_cmov(&b, X86_CC_AE, X86_RSI, X86_R8));
    /* an element's address (emit_scaled_add, fused_address): every pair
     * of registers that hold guest ones, every scale */
    static const int regs[] = {X86_RBX, X86_R15, X86_R14, X86_RSI, X86_RDI,
                               X86_R8,  X86_R9,  X86_R10, X86_R11};
    static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    for (unsigned i = 0; i < 9; i++)
        for (unsigned j = 0; j < 9; j++)
            for (int sc = 1; sc <= 8; sc *= 2) {
                char want[64];
                int32_t disp = (int32_t)(i * 9 + j) % 3 == 0 ? 0 : -0x20;
                snprintf(want, sizeof(want), "lea %s, [%s + %s%s%s]", names[regs[j]],
                         names[regs[i]], names[regs[j]],
                         sc == 1   ? ""
                         : sc == 2 ? "*2"
                         : sc == 4 ? "*4"
                                   : "*8",
                         disp ? " - 0x20" : "");
                ASM("lea sib", want, x86_lea(&b, regs[j], X86_MEMX(regs[i], regs[j], sc, disp)));
            }
    ASM("neg", "neg rax", x86_neg(&b, X86_RAX));
    ASM("div", "div rcx", x86_muldiv(&b, 1, X86_DIV, X86_RCX));
    ASM("idiv32", "idiv ecx", x86_muldiv(&b, 0, X86_IDIV, X86_RCX));
    ASM("mul", "mul r9", x86_muldiv(&b, 1, X86_MUL, X86_R9));
    ASM("imul1", "imul rcx", x86_muldiv(&b, 1, X86_IMUL1, X86_RCX));
    ASM("cqo cdq", "cqo; cdq", x86_cqo(&b); x86_cdq(&b));
    ASM("imul32", "imul eax, esi", x86_imul32_rr(&b, X86_RAX, X86_RSI));
    ASM("push pop", "push rbx; push r15; pop r15; pop rbx", x86_push(&b, X86_RBX);
        x86_push(&b, X86_R15); x86_pop(&b, X86_R15); x86_pop(&b, X86_RBX));
    ASM("mfence", "mfence", x86_mfence(&b));
    ASM("call jmp r", "call rax; jmp r8", x86_call_r(&b, X86_RAX); x86_jmp_r(&b, X86_R8));
    ASM("jmp32", "jmp 0x1005", x86_jmp32(&b));
    ASM("jcc32", "jne 0x1006", x86_jcc32(&b, X86_CC_NE));
    ASM("patched jcc", "jl 0x1010", x86_patch(&b, x86_jcc32(&b, X86_CC_L), 0x10));
    ASM("int3", "int3", x86_int3(&b));
    ASM("jmp m", "jmp qword ptr [rip + 0x1000]; jmp qword ptr [rax + 8]", b.exec = 0x1000;
        x86_jmp_m(&b, X86_ABS(0x2006)); x86_jmp_m(&b, X86_MEM(X86_RAX, 8)));
    ASM("rip relative", "cmp rdx, qword ptr [rip + 0x100]; mov dword ptr [rip + 0xfa], ecx",
        b.exec = 0x1000;
        x86_alu_rm(&b, X86_CMP, X86_RDX, X86_ABS(0x1107)); x86_st(&b, 4, X86_ABS(0x1107), X86_RCX));
    ASM("movq xmm", "movq xmm0, qword ptr [rbp + 0x110]",
        x86_sse_ld(&b, 1, 0, X86_MEM(X86_RBP, 0x110)));
    ASM("movd xmm", "movd xmm1, dword ptr [rbp + 0x110]",
        x86_sse_ld(&b, 0, 1, X86_MEM(X86_RBP, 0x110)));
    ASM("addsd", "addsd xmm0, qword ptr [rbp + 0x118]",
        x86_sse_op(&b, 1, X86_FADD, 0, X86_MEM(X86_RBP, 0x118)));
    ASM("divss", "divss xmm0, dword ptr [rbp + 8]",
        x86_sse_op(&b, 0, X86_FDIV, 0, X86_MEM(X86_RBP, 8)));
    ASM("sqrtsd subsd mulss",
        "sqrtsd xmm0, qword ptr [rbp]; subsd xmm0, qword ptr [rax]; mulss xmm0, dword ptr [rbp]",
        x86_sse_op(&b, 1, X86_SQRT, 0, X86_MEM(X86_RBP, 0));
        x86_sse_op(&b, 1, X86_FSUB, 0, X86_MEM(X86_RAX, 0));
        x86_sse_op(&b, 0, X86_FMUL, 0, X86_MEM(X86_RBP, 0)));
    ASM("cvtsi2sd", "cvtsi2sd xmm0, rbx", x86_cvt_i2f(&b, 1, 1, 0, X86_RBX));
    ASM("ucomis", "ucomisd xmm1, qword ptr [rbp + 8]; ucomiss xmm1, dword ptr [rbp + 8]",
        x86_ucomis(&b, 1, 1, X86_MEM(X86_RBP, 8));
        x86_ucomis(&b, 0, 1, X86_MEM(X86_RBP, 8)));
    ASM("cvtsi2ss r32", "cvtsi2ss xmm0, r9d", x86_cvt_i2f(&b, 0, 0, 0, X86_R9));
    ASM("cvttsd2si", "cvttsd2si rax, qword ptr [rbp + 0x110]",
        x86_cvt_f2i(&b, 1, 1, 1, X86_RAX, X86_MEM(X86_RBP, 0x110)));
    ASM("cvtss2si r32", "cvtss2si eax, dword ptr [rbp + 0x110]",
        x86_cvt_f2i(&b, 0, 0, 0, X86_RAX, X86_MEM(X86_RBP, 0x110)));
    ASM("vfmadd213sd", "vfmadd213sd xmm0, xmm1, qword ptr [rbp + 0x120]",
        x86_vfma213(&b, 1, X86_VFMADD, X86_MEM(X86_RBP, 0x120)));
    ASM("vfnmsub213ss", "vfnmsub213ss xmm0, xmm1, dword ptr [rbp + 0x120]",
        x86_vfma213(&b, 0, X86_VFNMSUB, X86_MEM(X86_RBP, 0x120)));
    ASM("xorps", "xorps xmm0, xmm0; xorps xmm9, xmm2", x86_xorps(&b, 0, 0); x86_xorps(&b, 9, 2));
    ASM("stmxcsr", "stmxcsr dword ptr [rbp + 0x12850]; stmxcsr dword ptr [r12 + 8]",
        x86_stmxcsr(&b, X86_MEM(X86_RBP, 0x12850));
        x86_stmxcsr(&b, X86_MEM(X86_R12, 8)));
    ASM("movq gpr", "movq rax, xmm0; movd ecx, xmm0", x86_sse_to_gpr(&b, 1, X86_RAX, 0);
        x86_sse_to_gpr(&b, 0, X86_RCX, 0));
    ASM("xmm operands",
        "movaps xmm0, xmm3; movaps xmm9, xmm12; addsd xmm0, xmm5; divss xmm0, xmm12; ucomisd xmm1, "
        "xmm2",
        x86_sse_ld(&b, 0, 0, X86_XMM(3));
        x86_sse_ld(&b, 1, 9, X86_XMM(12)); x86_sse_op(&b, 1, X86_FADD, 0, X86_XMM(5));
        x86_sse_op(&b, 0, X86_FDIV, 0, X86_XMM(12)); x86_ucomis(&b, 1, 1, X86_XMM(2)));
    ASM("xmm operands 2",
        "vfmadd213sd xmm0, xmm1, xmm4; vfmsub213ss xmm0, xmm1, xmm9; cvttsd2si rax, xmm6",
        x86_vfma213(&b, 1, X86_VFMADD, X86_XMM(4));
        x86_vfma213(&b, 0, X86_VFMSUB, X86_XMM(9)); x86_cvt_f2i(&b, 1, 1, 1, X86_RAX, X86_XMM(6)));
    ASM("movq to xmm and memory",
        "movq xmm7, rcx; movq xmm10, r9; movq qword ptr [rbp + 0x118], xmm7",
        x86_gpr_to_sse(&b, 7, X86_RCX);
        x86_gpr_to_sse(&b, 10, X86_R9); x86_sse_st(&b, X86_MEM(X86_RBP, 0x118), 7));
    ASM("boxing", "pcmpeqd xmm1, xmm1; punpckldq xmm0, xmm1; punpckldq xmm9, xmm10",
        x86_pcmpeqd(&b, 1, 1);
        x86_punpckldq(&b, 0, 1); x86_punpckldq(&b, 9, 10));
    /* Running out of room stops writing and says so (the translator then
     * throws the buffer away). */
    x86_init(&b, mem, 3);
    x86_mov_ri(&b, X86_RAX, 0x123456789aull);
    x86_ret(&b);
    CHECK(&c, b.overflow && b.len <= 3, "overflow: len %zu", b.len);
}

/* ---- differential test ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint32_t enc_r(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd,
                      unsigned opc)
{
    return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc;
}

static uint32_t enc_i(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned opc)
{
    return ((uint32_t)(imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc;
}

/* A random covered instruction; registers often small or x0 for overlap. */
static uint32_t random_insn(void)
{
    unsigned rd = rnd() % 4 ? rnd() % 8 : rnd() % 32, rs1 = rnd() % 8, rs2 = rnd() % 8;
    int32_t imm = (int32_t)(rnd() % 4096) - 2048;
    switch (rnd() % 12) {
    case 0: return ((uint32_t)rnd() & 0xfffff000u) | (rd << 7) | 0x37; /* lui */
    case 1: return ((uint32_t)rnd() & 0xfffff000u) | (rd << 7) | 0x17; /* auipc */
    case 2: { /* op-imm: addi slti sltiu xori ori andi */
        static const unsigned f3s[6] = {0, 2, 3, 4, 6, 7};
        return enc_i(imm, rs1, f3s[rnd() % 6], rd, 0x13);
    }
    case 3: { /* slli srli srai */
        unsigned sh = rnd() % 64, k = rnd() % 3;
        return enc_i((int32_t)((k == 2 ? 0x400 : 0) | sh), rs1, k ? 5 : 1, rd, 0x13);
    }
    case 4:
    case 5: { /* op: add sub sll slt sltu xor srl sra or and */
        static const unsigned f3s[10] = {0, 0, 1, 2, 3, 4, 5, 5, 6, 7};
        static const unsigned f7s[10] = {0, 0x20, 0, 0, 0, 0, 0, 0x20, 0, 0};
        unsigned k = rnd() % 10;
        return enc_r(f7s[k], rs2, rs1, f3s[k], rd, 0x33);
    }
    case 6: return enc_i(imm, rs1, 0, rd, 0x1b); /* addiw */
    case 7: {                                    /* slliw srliw sraiw */
        unsigned sh = rnd() % 32, k = rnd() % 3;
        return enc_i((int32_t)((k == 2 ? 0x400 : 0) | sh), rs1, k ? 5 : 1, rd, 0x1b);
    }
    case 8:
    case 9: { /* addw subw sllw srlw sraw */
        static const unsigned f3s[5] = {0, 0, 1, 5, 5};
        static const unsigned f7s[5] = {0, 0x20, 0, 0, 0x20};
        unsigned k = rnd() % 5;
        return enc_r(f7s[k], rs2, rs1, f3s[k], rd, 0x3b);
    }
    case 10: return enc_r(1, rs2, rs1, 0, rd, 0x33); /* mul */
    default: return enc_i(0, 0, 0, 0, 0x13);         /* nop */
    }
}

static uint64_t random_value(void)
{
    static const uint64_t edge[] = {0,
                                    1,
                                    ~0ull,
                                    0x7fffffffffffffffull,
                                    0x8000000000000000ull,
                                    0x80000000ull,
                                    0x7fffffffull,
                                    0xffffffff80000000ull,
                                    63,
                                    64};
    return rnd() % 3 ? rnd() >> (rnd() % 64) : edge[rnd() % 10];
}

/* ---- differential test: the same random programs on both engines ---- */

#define CODE    0x1000u  /* RAM offsets */
#define TRAPV   0x800u   /* trap vector: a counting loop */
#define DATA    0x8000u  /* 32 KiB the pointer registers point into */
#define ROOT_S  0x20000u /* Sv39 root tables: one gigapage over RAM, */
#define ROOT_U  0x21000u /* without and with the U bit */
#define SCAT_L1 0x22000u /* page tables of the scattered window (diff_setup) */
#define SCAT_L0 0x23000u
#define SCAT_VA 0x40000000u /* its virtual address: DATA's pages, shuffled */
#define PTRS    10u         /* x10..x13 hold data addresses, x14 a code address */

static uint32_t enc_s(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned opc)
{
    return ((uint32_t)(imm >> 5 & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
           ((uint32_t)(imm & 0x1f) << 7) | opc;
}

static uint32_t enc_b(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3)
{
    return ((uint32_t)(imm >> 12 & 1) << 31) | ((uint32_t)(imm >> 5 & 0x3f) << 25) | (rs2 << 20) |
           (rs1 << 15) | (f3 << 12) | ((uint32_t)(imm >> 1 & 0xf) << 8) |
           ((uint32_t)(imm >> 11 & 1) << 7) | 0x63;
}

static uint32_t enc_j(int32_t imm, unsigned rd)
{
    return ((uint32_t)(imm >> 20 & 1) << 31) | ((uint32_t)(imm >> 1 & 0x3ff) << 21) |
           ((uint32_t)(imm >> 11 & 1) << 20) | ((uint32_t)(imm >> 12 & 0xff) << 12) | (rd << 7) |
           0x6f;
}

/* A destination: mostly not a pointer register, so accesses stay near data. */
static unsigned rand_rd(void)
{
    unsigned r = (unsigned)(rnd() % 32);
    return r >= PTRS && r <= PTRS + 4 && rnd() % 8 ? (unsigned)(rnd() % 8) : r;
}

/* F and D: loads and stores through the pointer registers, arithmetic,
 * conversions and moves in every rounding mode (some invalid). */
static uint32_t random_fp(unsigned rd, unsigned ptr, int32_t off)
{
    unsigned fd = (unsigned)(rnd() % 8), f1 = (unsigned)(rnd() % 8), f2 = (unsigned)(rnd() % 8);
    unsigned rm = rnd() % 3 ? (rnd() % 2 ? 0 : 7) : (unsigned)(rnd() % 8);
    unsigned dbl = (unsigned)(rnd() % 2);
    switch (rnd() % 10) {
    case 0: return enc_i(off, ptr, dbl ? 3 : 2, fd, 0x07);                     /* flw/fld */
    case 1: return enc_s(off, f2, ptr, dbl ? 3 : 2, 0x27);                     /* fsw/fsd */
    case 2: return enc_r((rnd() % 4) << 2 | dbl, f2, f1, rm, fd, 0x53);        /* add sub mul div */
    case 3: return enc_r(0x2c | dbl, 0, f1, rm, fd, 0x53);                     /* sqrt */
    case 4: return enc_r(0x10 | dbl, f2, f1, (unsigned)(rnd() % 3), fd, 0x53); /* sgnj */
    case 5: return enc_r(0x14 | dbl, f2, f1, (unsigned)(rnd() % 2), fd, 0x53); /* min max */
    case 6: return enc_r(0x50 | dbl, f2, f1, (unsigned)(rnd() % 3), rd, 0x53); /* fle flt feq */
    case 7: return enc_r(0x60 | dbl, (unsigned)(rnd() % 4), f1, rm, rd, 0x53); /* fcvt to int */
    case 8:
        return enc_r(0x68 | dbl, (unsigned)(rnd() % 4), rnd() % 16, rm, fd, 0x53); /* from int */
    default: /* fmadd family */
        return ((uint32_t)f2 << 27) | (dbl << 25) | (f2 << 20) | (f1 << 15) | (rm << 12) |
               (fd << 7) | (0x43u + 4 * (unsigned)(rnd() % 4));
    }
}

/* Any instruction the translator covers (and a few it does not), with
 * memory accesses through the pointer registers and short branches. */
static uint32_t random_full(unsigned *len)
{
    unsigned rd = rand_rd(), rs1 = (unsigned)(rnd() % 16), rs2 = (unsigned)(rnd() % 16);
    unsigned ptr = PTRS + (unsigned)(rnd() % 4);
    int32_t off = (int32_t)(rnd() % 128) - 64;
    *len = 4;
    switch (rnd() % 20) {
    case 16:
    case 17:
    case 18:
    case 19: return random_fp(rd, ptr, off);
    case 0:
    case 1:
    case 2: return random_insn() | (rd << 7 & 0xf80) | ((rnd() % 2) << 15); /* ALU */
    case 3: {                                                               /* M extension */
        static const unsigned f3s[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        unsigned w = (unsigned)(rnd() % 3 == 0), f3 = f3s[rnd() % 8];
        if (w && f3 >= 1 && f3 <= 3) f3 = 0;
        return enc_r(1, rs2, rs1, f3, rd, w ? 0x3b : 0x33);
    }
    case 4:
    case 5: { /* loads */
        static const unsigned f3s[7] = {0, 1, 2, 3, 4, 5, 6};
        return enc_i(off, ptr, f3s[rnd() % 7], rd, 0x03);
    }
    case 6:
    case 7: return enc_s(off, rs2, ptr, (unsigned)(rnd() % 4), 0x23); /* stores */
    case 8:
    case 9: { /* branches, mostly forward */
        static const unsigned f3s[6] = {0, 1, 4, 5, 6, 7};
        int32_t to = rnd() % 6 ? 4 * (int32_t)(1 + rnd() % 8) : -4 * (int32_t)(1 + rnd() % 6);
        return enc_b(to, rs2 % 8, rs1 % 8, f3s[rnd() % 6]);
    }
    case 10: return enc_j(4 * (int32_t)(1 + rnd() % 6), rnd() % 2 ? 1 : 0); /* jal */
    case 11:
        return enc_i((int32_t)(rnd() % 8) * 4, PTRS + 4, 0, rnd() % 2 ? 1 : 0, 0x67); /* jalr */
    case 12: { /* compressed: c.addi, c.mv, c.li */
        *len = 2;
        unsigned r = 1 + (unsigned)(rnd() % 9), imm6 = (unsigned)(rnd() % 64);
        switch (rnd() % 3) {
        case 0: return 0x0001 | ((imm6 >> 5) << 12) | (r << 7) | ((imm6 & 31) << 2);
        case 1: return 0x8002 | (r << 7) | ((1 + (unsigned)(rnd() % 15)) << 2);
        default: return 0x4001 | ((imm6 >> 5) << 12) | (r << 7) | ((imm6 & 31) << 2);
        }
    }
    case 13:
        if (rnd() % 2) return 0x0ff0000fu; /* fence */
        return random_fp(rd, ptr, off);
    case 14:
        if (rnd() % 2) return enc_i(0, 0, 0, 0, 0x13);
        { /* LR, SC, AMOs (aligned when the pointer is) */
            static const unsigned f5[] = {0x02, 0x03, 0x01, 0x00, 0x04, 0x0c, 0x08,
                                          0x10, 0x14, 0x18, 0x1c, 0x02, 0x03};
            return (f5[rnd() % 13] << 27) | ((unsigned)(rnd() % 4) << 25) | (rs2 << 20) |
                   (ptr << 15) | ((2u + (unsigned)(rnd() % 2)) << 12) | (rd << 7) | 0x2f;
        }
    default: { /* CSR accesses (counters, scratch, status, FP, triggers), illegal ones */
        static const uint32_t csrs[] = {0x340, 0x140, 0x300, 0x001, 0x002, 0x003, 0xc00,
                                        0xc02, 0xb02, 0xb00, 0x7a0, 0x100, 0x344};
        if (rnd() % 8 == 0) return 0xffffffffu;
        unsigned f3 = 1 + (unsigned)(rnd() % 3) + (rnd() % 2 ? 4 : 0); /* rw rs rc [i] */
        unsigned src = rnd() % 3 ? 0 : (unsigned)(rnd() % 16);         /* often a plain read */
        return (csrs[rnd() % 13] << 20) | (src << 15) | (f3 << 12) | (rd << 7) | 0x73;
    }
    }
}

struct diff_setup {
    unsigned priv, mprv, budget, fs, frm, fflags;
    uint64_t x[32], f[32];
    /* scatter: Sv39 maps SCAT_VA's 8 pages to DATA's in this order, with
     * these PTE flags each (0: none) */
    int scatter;
    uint8_t page[8], pte_flags[8];
};

/* The scattered window's tables: root (both) entry 1 -> SCAT_L1 -> SCAT_L0. */
static void map_scattered(struct vm *vm, const struct diff_setup *st)
{
    memset(vm->ram + SCAT_L1, 0, 0x2000);
    uint64_t l1 = ((VM_RAM_BASE + SCAT_L1) >> 12) << 10 | 1,
             l0 = ((VM_RAM_BASE + SCAT_L0) >> 12) << 10 | 1;
    memcpy(vm->ram + ROOT_S + 8, &l1, 8);
    memcpy(vm->ram + ROOT_U + 8, &l1, 8);
    uint64_t dev = 0xc7; /* and the devices' gigapage, as it is: V R W A D */
    memcpy(vm->ram + ROOT_S, &dev, 8);
    dev |= 0x10;
    memcpy(vm->ram + ROOT_U, &dev, 8);
    memcpy(vm->ram + SCAT_L1, &l0, 8);
    for (unsigned i = 0; i < 8; i++) {
        uint64_t pte =
            ((VM_RAM_BASE + DATA + 0x1000u * st->page[i]) >> 12) << 10 | st->pte_flags[i];
        memcpy(vm->ram + SCAT_L0 + 8 * i, &pte, 8);
    }
}

static void prepare(struct vm *vm, const uint8_t *code, size_t len, const uint8_t *data,
                    const struct diff_setup *st)
{
    struct hart *h = vm->harts[0];
    hart_reset(h, VM_RAM_BASE + CODE);
    memcpy(vm->ram + CODE, code, len);
    memcpy(vm->ram + DATA, data, 0x8000);
    static const uint32_t loop[2] = {0x00108093u /* addi x1, x1, 1 */, 0xffdff06fu /* j .-4 */};
    memcpy(vm->ram + TRAPV, loop, sizeof(loop));
    uint64_t pte = ((VM_RAM_BASE >> 12) << 10) | 0xcf; /* V R W X A D */
    memset(vm->ram + ROOT_S, 0, 0x2000);
    memcpy(vm->ram + ROOT_S + 8 * 2, &pte, 8);
    pte |= 0x10; /* U */
    memcpy(vm->ram + ROOT_U + 8 * 2, &pte, 8);
    memcpy(h->x, st->x, sizeof(st->x));
    csr_write(h, 0x3b0, ~0ull); /* PMP entry 0 over everything, RWX: S and U may run */
    csr_write(h, 0x3a0, 0x1f);
    h->mtvec = VM_RAM_BASE + TRAPV;
    h->priv = st->priv;
    if (st->priv != PRV_M)
        h->satp = (8ull << 60) | ((VM_RAM_BASE + (st->priv == PRV_U ? ROOT_U : ROOT_S)) >> 12);
    memcpy(h->f, st->f, sizeof(st->f));
    h->frm = st->frm;
    h->fflags = st->fflags;
    h->mstatus |= st->fs << MSTATUS_FS_SHIFT;
    if (st->mprv) { /* M-mode data accesses as S under Sv39 */
        h->satp = (8ull << 60) | ((VM_RAM_BASE + ROOT_S) >> 12);
        h->mstatus |= MSTATUS_MPRV | (1ull << MSTATUS_MPP_SHIFT);
    }
    if (st->scatter) map_scattered(vm, st);
}

static int same_state(struct vm *a, struct vm *b, char *why, size_t n)
{
    struct hart *x = a->harts[0], *y = b->harts[0];
    for (unsigned r = 0; r < 32; r++)
        if (x->x[r] != y->x[r]) {
            snprintf(why, n, "x%u: jit %016llx interp %016llx", r, (unsigned long long)x->x[r],
                     (unsigned long long)y->x[r]);
            return 0;
        }
    struct {
        const char *name;
        uint64_t p, q;
    } f[] = {{"pc", x->pc, y->pc},
             {"instret", x->instret, y->instret},
             {"priv", x->priv, y->priv},
             {"mcause", x->mcause, y->mcause},
             {"mepc", x->mepc, y->mepc},
             {"mtval", x->mtval, y->mtval},
             {"mstatus", x->mstatus, y->mstatus}};
    for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (f[i].p != f[i].q) {
            snprintf(why, n, "%s: jit %llx interp %llx", f[i].name, (unsigned long long)f[i].p,
                     (unsigned long long)f[i].q);
            return 0;
        }
    for (unsigned r = 0; r < 32; r++)
        if (x->f[r] != y->f[r]) {
            snprintf(why, n, "f%u: jit %016llx interp %016llx", r, (unsigned long long)x->f[r],
                     (unsigned long long)y->f[r]);
            return 0;
        }
    if (x->fflags != y->fflags) {
        snprintf(why, n, "fflags: jit %x interp %x", x->fflags, y->fflags);
        return 0;
    }
    for (unsigned i = 0; i < 0x10000; i++)
        if (a->ram[i] != b->ram[i]) {
            snprintf(why, n, "memory differs at RAM+%#x: jit %02x interp %02x", i, a->ram[i],
                     b->ram[i]);
            return 0;
        }
    return 1;
}

/* Run exactly budget instructions unless the hart stops for a reason of
 * its own (a spin-wait yield is not one: the vCPU loop would go on). */
static void run_for(struct hart *h, uint64_t budget)
{
    while (h->instret < budget)
        if (hart_run(h, budget - h->instret, 0) != HART_EXIT_YIELD) break;
}

static struct vm *engine_vm_hot(int engine, unsigned hot)
{
    char err[256];
    struct vm_config cfg = {.ram_size = 1 << 20, .ncpus = 1, .engine = engine, .jit_hot = hot};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    CHECK(&c, vm && virt_board_create(vm, err, sizeof(err)) == 0, "vm: %s", err);
    if (vm) vm->console_out_fd = -1;
    return vm;
}

static struct vm *engine_vm(int engine)
{
    return engine_vm_hot(engine, 1);
}

/* Random programs (every privilege, paging on and off, faults, stores
 * into their own code) run for a random budget on both engines from the
 * same state must end in the same state, exactly. VMON_JIT_DIFF_SECONDS
 * sets how long (default: 3000 programs). */
static void test_differential(void)
{
    struct vm *vj = engine_vm(VM_ENGINE_JIT), *vi = engine_vm(VM_ENGINE_INTERP);
    if (!vj || !vi) return;
    const char *secs_env = getenv("VMON_JIT_DIFF_SECONDS");
    double secs = secs_env ? atof(secs_env) : 0;
    uint64_t t_end = host_time_ns() + (uint64_t)(secs * 1e9);
    static uint8_t data[0x8000];
    unsigned progs = 0, bad = 0, translated = 0;
    uint64_t insns = 0;
    for (unsigned iter = 0; secs > 0 ? host_time_ns() < t_end : iter < 3000; iter++) {
        uint8_t code[4 * 64];
        size_t len = 0;
        unsigned n = 8 + (unsigned)(rnd() % 48);
        for (unsigned i = 0; i < n; i++) {
            unsigned l;
            uint32_t w = random_full(&l);
            memcpy(code + len, &w, l);
            len += l;
        }
        static const uint32_t tail[2] = {0x00108093u, 0xffdff06fu};
        memcpy(code + len, tail, 8);
        len += 8;
        for (size_t i = 0; i < sizeof(data); i++)
            data[i] = (uint8_t)rnd();
        struct diff_setup st = {.budget = 1 + (unsigned)(rnd() % 400)};
        unsigned m = (unsigned)(rnd() % 4);
        st.priv = m == 0 ? PRV_M : m == 1 ? PRV_S : m == 2 ? PRV_U : PRV_M;
        st.mprv = m == 3;
        for (unsigned r = 1; r < 32; r++)
            st.x[r] = random_value();
        for (unsigned r = 0; r < 32; r++) /* boxed singles, doubles and junk */
            st.f[r] = rnd() % 3 ? 0xffffffff00000000ull | (uint32_t)random_value() : random_value();
        st.fs = rnd() % 8 ? 1 + (unsigned)(rnd() % 3) : 0;
        st.fflags = rnd() % 4 ? 1 | (unsigned)(rnd() % 32) : 0; /* NX set: the SSE path */
        st.frm = rnd() % 2 ? 0 : rnd() % 6 ? (unsigned)(rnd() % 5) : 5 + (unsigned)(rnd() % 3);
        for (unsigned r = PTRS; r < PTRS + 4; r++) /* into data, sometimes its code */
            st.x[r] = VM_RAM_BASE + (rnd() % 16 ? DATA : CODE) + (rnd() % 0x7f80) + 64;
        st.x[PTRS + 3] |= rnd() % 2; /* sometimes odd: misaligned accesses */
        st.x[PTRS + 2] &= ~7ull;     /* aligned: LR/SC and AMOs succeed */
        st.x[PTRS + 4] = VM_RAM_BASE + CODE + 4 * (rnd() % 8);
        const char *only = getenv("VMON_JIT_DIFF_ONLY"); /* debugging one program */
        if (only && (unsigned)atoi(only) != iter) continue;
        prepare(vj, code, len, data, &st);
        prepare(vi, code, len, data, &st);
        if (only) vj->jit_dump = stderr;
        run_for(vj->harts[0], st.budget);
        run_for(vi->harts[0], st.budget);
        char why[160];
        if (!same_state(vj, vi, why, sizeof(why)) && bad++ < 5) {
            fprintf(stderr, "program %u (priv %u%s, budget %u): %s\n", iter, st.priv,
                    st.mprv ? " mprv" : "", st.budget, why);
            unsigned k = 1; /* the shortest budget after which they differ */
            for (; k < st.budget; k++) {
                prepare(vj, code, len, data, &st);
                prepare(vi, code, len, data, &st);
                run_for(vj->harts[0], k);
                run_for(vi->harts[0], k);
                if (getenv("VMON_JIT_DIFF_ONLY"))
                    fprintf(stderr, "   %u: jit pc %llx interp pc %llx\n", k,
                            (unsigned long long)vj->harts[0]->pc,
                            (unsigned long long)vi->harts[0]->pc);
                if (!same_state(vj, vi, why, sizeof(why))) break;
            }
            struct hart *hj = vj->harts[0], *hi = vi->harts[0];
            fprintf(stderr,
                    "  first differs after %u instructions: %s\n  jit pc %llx instret %llu mepc "
                    "%llx mcause "
                    "%llx; interp pc %llx instret %llu mepc %llx mcause %llx\n",
                    k, why, (unsigned long long)hj->pc, (unsigned long long)hj->instret,
                    (unsigned long long)hj->mepc, (unsigned long long)hj->mcause,
                    (unsigned long long)hi->pc, (unsigned long long)hi->instret,
                    (unsigned long long)hi->mepc, (unsigned long long)hi->mcause);
            for (size_t i = 0; i + 2 <= len - 8;) {
                uint32_t w = 0;
                memcpy(&w, code + i, (w = code[i] & 3) == 3 ? 4 : 2);
                struct insn d;
                insn_decode_any(w, &d);
                fprintf(stderr, "  +%03zx %08x %s\n", i, w, insn_name(d.op));
                i += d.len;
            }
        }
        progs++;
        insns += vj->harts[0]->instret;
        translated += vj->harts[0]->jit.blocks != 0;
    }
    CHECK(&c, bad == 0, "%u of %u random programs differ", bad, progs);
    CHECK(&c, translated > progs / 2, "only %u of %u programs were translated", translated, progs);
    printf("differential: %u programs, %llu instructions, %u with translated blocks\n", progs,
           (unsigned long long)insns, translated);
    vm_destroy(vj);
    vm_destroy(vi);
}

/* A value for the SSE fast path's edges: ordinary numbers, numbers near
 * the underflow and overflow thresholds, subnormals, zeros, infinities,
 * NaNs, and (for single precision) bad NaN boxes. */
static uint64_t fp_edge(int dbl)
{
    static const uint32_t s_exp[] = {0, 1, 2, 3, 0x3f, 0x7f, 0x80, 0xfc, 0xfd, 0xfe, 0xff};
    static const uint64_t d_exp[] = {0, 1, 2, 3, 0x3ff, 0x400, 0x7fc, 0x7fd, 0x7fe, 0x7ff};
    uint64_t sign = rnd() % 2;
    if (!dbl) {
        uint32_t e = rnd() % 3 ? 0x7e + (uint32_t)(rnd() % 3) : s_exp[rnd() % 11];
        uint32_t v = (uint32_t)(sign << 31) | e << 23 | (uint32_t)(rnd() & 0x7fffff);
        return rnd() % 16 ? 0xffffffff00000000ull | v : v; /* sometimes not boxed */
    }
    uint64_t e = rnd() % 3 ? 0x3fe + rnd() % 3 : d_exp[rnd() % 10];
    return sign << 63 | e << 52 | (rnd() & 0xfffffffffffffull);
}

/* FP operands of the instruction's precision: odd registers hold doubles,
 * even ones singles (see fp_edge), so most operations see ordinary values. */
static uint32_t match_precision(uint32_t w)
{
    unsigned opc = w & 0x7f, f7 = w >> 25, dbl = (w >> 25) & 1;
    uint32_t rs1 = 1u << 15, rs2 = 1u << 20, rs3 = 1u << 27;
    uint32_t fields = 0;
    if (opc >= 0x43 && opc <= 0x4f)
        fields = rs1 | rs2 | rs3;
    else if (opc == 0x53 && f7 != 0x68 && f7 != 0x69 && f7 != 0x78 && f7 != 0x79)
        fields = f7 < 0x2c || (f7 >= 0x50 && f7 <= 0x51) ? rs1 | rs2 : rs1;
    return (w & ~fields) | (dbl ? fields : 0);
}

/* Straight-line F/D arithmetic (the operations the translator does with
 * SSE when NX is set and the rounding is to nearest) from values at the
 * edges, on both engines: same registers and flags. */
static void test_fp_fastpath(void)
{
    struct vm *vj = engine_vm(VM_ENGINE_JIT), *vi = engine_vm(VM_ENGINE_INTERP);
    if (!vj || !vi) return;
    unsigned bad = 0, runs = 4000;
    static const uint8_t f7[] = {0x00, 0x04, 0x08, 0x0c, 0x2c}; /* add sub mul div sqrt */
    for (unsigned iter = 0; iter < runs; iter++) {
        uint32_t code[34];
        for (unsigned i = 0; i < 32; i++) {
            unsigned dbl = (unsigned)(rnd() % 2), k = (unsigned)(rnd() % 5);
            unsigned rm = rnd() % 8 ? (rnd() % 2 ? 0 : 7) : (unsigned)(rnd() % 5);
            unsigned rd = 1 + (unsigned)(rnd() % 15);
            code[i] = enc_r(f7[k] | dbl, k == 4 ? 0 : (unsigned)(rnd() % 8), (unsigned)(rnd() % 8),
                            rm, (unsigned)(rnd() % 8), 0x53);
            if (rnd() % 2) { /* the other F/D operations; moves instead of memory */
                struct insn d;
                code[i] = random_fp(rd, 0, 0);
                insn_decode(code[i], &d);
                if (d.op >= OP_FLW && d.op <= OP_FSD)
                    code[i] = rnd() % 2 ? enc_r(0x70 | dbl, 0, (unsigned)(rnd() % 8), 0, rd, 0x53)
                                        : enc_r(0x78 | dbl, 0, rd, 0, (unsigned)(rnd() % 8), 0x53);
            }
            code[i] = match_precision(code[i]);
        }
        code[32] = 0x00108093u; /* addi x1, x1, 1; j .-4 */
        code[33] = 0xffdff06fu;
        struct diff_setup st = {.budget = 200, .priv = PRV_M, .fs = 1};
        st.frm = rnd() % 4 ? 0 : (unsigned)(rnd() % 5);
        st.fflags = rnd() % 8 ? 1 : 0;
        for (unsigned r = 0; r < 32; r++) {
            st.f[r] = fp_edge(r & 1);
            st.x[r] = r ? random_value() : 0;
        }
        static uint8_t data[0x8000];
        prepare(vj, (const uint8_t *)code, sizeof(code), data, &st);
        prepare(vi, (const uint8_t *)code, sizeof(code), data, &st);
        run_for(vj->harts[0], st.budget);
        run_for(vi->harts[0], st.budget);
        char why[160];
        if (!same_state(vj, vi, why, sizeof(why)) && bad++ < 5)
            fprintf(stderr, "fp program %u: %s\n", iter, why);
    }
    CHECK(&c, bad == 0, "%u of %u F/D programs differ between the engines", bad, runs);
    vm_destroy(vj);
    vm_destroy(vi);
}

/* An F destination of the instruction's precision too (even: single). */
static uint32_t match_rd(uint32_t w)
{
    unsigned opc = w & 0x7f, f7 = w >> 25, dbl = f7 & 1;
    int frd = (opc >= 0x43 && opc <= 0x4f) || opc == 0x07 ||
              (opc == 0x53 && f7 != 0x50 && f7 != 0x51 && f7 != 0x60 && f7 != 0x61 && f7 != 0x70 &&
               f7 != 0x71);
    if (opc == 0x07) dbl = (w >> 12 & 7) == 3;
    return frd ? (w & ~(1u << 7)) | dbl << 7 : w;
}

/* Counts xr down and branches back to the code's start while it is not
 * zero (addi xr, xr, -1; bnez xr, start), at code[n]; returns the new n. */
static unsigned count_down(uint32_t *code, unsigned n, unsigned r)
{
    code[n++] = enc_i(-1, r, 0, r, 0x13);
    code[n] = enc_b(-4 * (int32_t)n, 0, r, 1);
    return n + 1;
}

/* Where a program ends up: addi x1, x1, 1; j .-4 (the budget stops it). */
static unsigned park(uint32_t *code, unsigned n)
{
    code[n++] = 0x00108093u;
    code[n++] = 0xffdff06fu;
    return n;
}

/* A loop of F/D arithmetic, loads and stores, with exits from its
 * middle; x5 counts its iterations. Returns its length in words. */
static unsigned fp_loop_code(uint32_t *code)
{
    static const uint8_t f7[] = {0x00, 0x04, 0x08, 0x0c, 0x2c}; /* add sub mul div sqrt */
    unsigned n = 0, body = 2 + (unsigned)(rnd() % 20);
    for (unsigned i = 0; i < body; i++) {
        unsigned dbl = (unsigned)(rnd() % 2), k = (unsigned)(rnd() % 5);
        unsigned rm = rnd() % 8 ? (rnd() % 2 ? 0 : 7) : (unsigned)(rnd() % 5);
        uint32_t w = enc_r(f7[k] | dbl, k == 4 ? 0 : (unsigned)(rnd() % 8), (unsigned)(rnd() % 8),
                           rm, (unsigned)(rnd() % 8), 0x53);
        switch (rnd() % 6) {
        case 0: w = random_fp(1 + (unsigned)(rnd() % 9), PTRS, 8 * (int32_t)(rnd() % 8)); break;
        case 1: /* beq x5, x20 or x21 out of the loop */
            w = enc_b(4 * (int32_t)(body + 3 - i), 20 + (unsigned)(rnd() % 2), 5, 0);
            break;
        }
        code[n++] = rnd() % 32 ? match_rd(match_precision(w)) : w;
    }
    return park(code, count_down(code, n, 5));
}

/* The starting state of an F/D loop: mostly what its fast copy needs. */
static void fp_loop_setup(struct diff_setup *st, uint8_t *data)
{
    st->budget = 1 + (unsigned)(rnd() % 1500);
    st->fs = rnd() % 8 ? 3 : (unsigned)(rnd() % 4); /* mostly what the fast copy needs */
    st->frm = rnd() % 8 ? 0 : (unsigned)(rnd() % 5);
    st->fflags = rnd() % 8 ? 1 : 0;
    for (unsigned r = 0; r < 32; r++) {
        st->f[r] = fp_edge(rnd() % 8 ? r & 1 : (unsigned)(rnd() % 2));
        st->x[r] = r ? random_value() : 0;
    }
    st->x[5] = 1 + rnd() % 40;
    st->x[20] = rnd() % st->x[5];     /* leave when the count gets there */
    st->x[21] = st->x[5] - rnd() % 3; /* in one of the first iterations */
    st->x[PTRS] = VM_RAM_BASE + DATA + 8 * (rnd() % 64);
    for (size_t i = 0; i < 0x8000; i += 8) {
        uint64_t v = fp_edge((unsigned)(rnd() % 2));
        memcpy(data + i, &v, 8);
    }
}

/* An integer instruction or a memory access through x10 on registers
 * x0..x5 (so that a loop's registers fit in host ones). */
static uint32_t small_insn(void)
{
    unsigned r = (unsigned)(rnd() % 6), r2 = (unsigned)(rnd() % 6);
    int32_t off = 8 * (int32_t)(rnd() % 16) - 64;
    switch (rnd() % 8) {
    case 0: return enc_i(off, PTRS, (unsigned)(rnd() % 7), r, 0x03);  /* loads */
    case 1: return enc_s(off, r2, PTRS, (unsigned)(rnd() % 4), 0x23); /* stores */
    }
    uint32_t w = random_insn();
    unsigned opc = w & 0x7f;
    w = (w & ~(0x1fu << 7)) | r << 7;
    if (opc == 0x13 || opc == 0x1b || opc == 0x33 || opc == 0x3b) /* rs1, rs2 too */
        w = (w & ~(0x3ffu << 15)) | (r2 << 15) | ((unsigned)(rnd() % 6) << 20);
    return w;
}

/* A loop (x9 counts it) with a branch to code after it that jumps back
 * into it: the translator's loop tails. Sometimes too long to be one, or
 * holding an instruction a tail may not. Returns its length in words. */
static unsigned tail_loop_code(uint32_t *code)
{
    unsigned a = (unsigned)(rnd() % 5), b = 1 + (unsigned)(rnd() % 5), n = 0;
    unsigned m = (unsigned)(rnd() % (b + 3)), k = (unsigned)(rnd() % (a + 1));
    static const unsigned f3s[6] = {0, 1, 4, 5, 6, 7};
    for (unsigned i = 0; i < a; i++)
        code[n++] = small_insn();
    unsigned tail_at = a + b + 5;
    code[n] =
        enc_b(4 * (int32_t)(tail_at - n), (unsigned)(rnd() % 6), rnd() % 4 ? 9 : 1, f3s[rnd() % 6]);
    n++;
    for (unsigned i = 0; i < b; i++)
        code[n++] = small_insn();
    code[n++] = enc_i(-1, 9, 0, 9, 0x13);                    /* addi x9, x9, -1 */
    code[n] = enc_b(4 * ((int32_t)k - (int32_t)n), 0, 9, 1); /* bnez x9, k */
    n++;
    n = park(code, n);
    for (unsigned i = 0; i < m; i++)
        code[n++] = rnd() % 16 ? small_insn() : 0xc0002573u; /* sometimes rdcycle */
    unsigned back = (unsigned)(rnd() % (a + b + 3));
    code[n] = enc_j(4 * ((int32_t)back - (int32_t)n), 0);
    return n + 1;
}

/* The starting state of a loop with tails: any privilege, x10 sometimes
 * into the code, sometimes misaligned. */
static void tail_loop_setup(struct diff_setup *st, uint8_t *data)
{
    st->budget = 1 + (unsigned)(rnd() % 800);
    unsigned m = (unsigned)(rnd() % 3);
    st->priv = m == 0 ? PRV_M : m == 1 ? PRV_S : PRV_U;
    for (unsigned r = 1; r < 32; r++)
        st->x[r] = random_value();
    st->x[9] = 1 + rnd() % 60;
    st->x[PTRS] = VM_RAM_BASE + (rnd() % 32 ? DATA + 128 + 8 * (rnd() % 64) : CODE);
    st->x[PTRS] |= rnd() % 16 == 0; /* sometimes misaligned */
    for (size_t i = 0; i < 0x8000; i++)
        data[i] = (uint8_t)rnd();
}

/* A divisor for the translator's division by a loop-invariant value. */
static uint64_t divisor_value(void)
{
    static const uint64_t edge[] = {1,
                                    2,
                                    3,
                                    5,
                                    7,
                                    10,
                                    641,
                                    1ull << 31,
                                    1ull << 32,
                                    (1ull << 32) + 1,
                                    (1ull << 32) - 1,
                                    0xffffffff80000000ull,
                                    0xfffffffffffffff9ull,
                                    1ull << 63,
                                    (1ull << 63) + 1,
                                    ~0ull,
                                    ~0ull - 1,
                                    0};
    switch (rnd() % 3) {
    case 0: return edge[rnd() % (sizeof(edge) / sizeof(edge[0]))];
    case 1: return 1 + rnd() % 1000;
    default: return rnd() >> (rnd() % 64);
    }
}

/* A division or remainder of any of the eight kinds by rs2 into one of
 * x1..x5. */
static uint32_t div_insn(unsigned rs2)
{
    return enc_r(1, rs2, (unsigned)(rnd() % 6), 4 + (unsigned)(rnd() % 4),
                 1 + (unsigned)(rnd() % 5), rnd() % 2 ? 0x33 : 0x3b);
}

/* x12 set to a constant (li, or lui and addiw), sometimes set again to
 * another unless a forward branch skips that, then divided by: the
 * translator's divisions by a constant it knows from the code. Returns
 * the words written. */
static unsigned known_divisor_code(uint32_t *code)
{
    static const int32_t small[] = {1, 2, 3, 7, 10, -1, -3, -7, 2047, -2048, 0, 641};
    unsigned n = 0;
    for (int again = 0; again < 2; again++) {
        if (again && rnd() % 2) break;
        if (again) {
            code[n] = enc_b(rnd() % 2 ? 8 : 12, (unsigned)(rnd() % 6), (unsigned)(rnd() % 6),
                            (unsigned)(rnd() % 2)); /* beq/bne over the next one */
            n++;
        }
        if (rnd() % 2) {
            code[n++] = enc_i(small[rnd() % 12], 0, 0, 12, 0x13); /* li x12, k */
            if (again) code[n++] = 0x00000013u;                   /* nop: same length */
        } else {
            code[n++] = ((uint32_t)rnd() & 0xfffff000u) | 12u << 7 | 0x37u;     /* lui x12 */
            code[n++] = enc_i((int32_t)(rnd() % 4096) - 2048, 12, 0, 12, 0x1b); /* addiw */
        }
    }
    code[n++] = div_insn(12);
    return n;
}

/* An inner loop (x9 counts it) dividing by x7, which it does not write,
 * and by constants it sets (known_divisor_code), then x7 changed (or not)
 * outside it and the loop entered again through a JALR (x8 counts those):
 * the loop's entry finds the divisor it was translated for, or not.
 * Returns the length in words. */
static unsigned div_loop_code(uint32_t *code)
{
    unsigned n = 0, body = 1 + (unsigned)(rnd() % 4); /* 8 words each at most */
    for (unsigned i = 0; i < body; i++) {
        code[n++] = small_insn();
        if (rnd() % 2) code[n++] = div_insn(7);
        if (rnd() % 3 == 0) n += known_divisor_code(code + n);
    }
    n = count_down(code, n, 9);
    code[n++] = enc_i((int32_t)(rnd() % 3), 7, 0, 7, 0x13); /* addi x7, x7, 0..2 */
    code[n++] = enc_i(3, 0, 0, 9, 0x13);                    /* li x9, 3 */
    code[n++] = enc_i(-1, 8, 0, 8, 0x13);                   /* addi x8, x8, -1 */
    code[n] = enc_b(8, 0, 8, 0);                            /* beqz x8, .+8 */
    n++;
    code[n++] = enc_i(0, PTRS + 4, 0, 0, 0x67); /* jr x14 (the start) */
    return park(code, n);
}

/* The starting state of a loop dividing by x7. */
static void div_loop_setup(struct diff_setup *st, uint8_t *data)
{
    st->budget = 1 + (unsigned)(rnd() % 1500);
    for (unsigned r = 1; r < 32; r++)
        st->x[r] = random_value();
    st->x[7] = divisor_value();
    st->x[8] = 1 + rnd() % 6;
    st->x[9] = 1 + rnd() % 30;
    st->x[PTRS] = VM_RAM_BASE + DATA + 128 + 8 * (rnd() % 64);
    st->x[PTRS + 4] = VM_RAM_BASE + CODE;
    for (size_t i = 0; i < 0x8000; i++)
        data[i] = (uint8_t)rnd();
}

/* A pointer chase: x5 = word x5 of the array at x10 (slli, add, a load
 * of some width), summed into x7, sometimes with a store back through the
 * element's address or another instruction in between; x9 counts it. With
 * x10 at the scattered window, consecutive loads go to pages that differ
 * in their host addend or not: the translator's access slots, which keep
 * a page and its addend, and make the next page's address from that
 * addend when it is the same; or, when a CSR access splits the loop into
 * blocks, the addend each load had last time, which the translator checks
 * against the TLB's. A store to the CLINT in the loop makes the
 * hart's events pending: the loop leaves at its back edge's look at them.
 * Returns the length in words. */
static unsigned chase_code(uint32_t *code)
{
    static const unsigned loads[4] = {2, 6, 3, 4}; /* lw lwu ld lbu */
    unsigned n = 0;
    code[n++] = enc_i(rnd() % 8 ? 2 : 3, 5, 1, 6, 0x13); /* slli x6, x5, 2 (or 3) */
    code[n++] = rnd() % 2 ? enc_r(0, PTRS, 6, 0, 6, 0x33) : enc_r(0, 6, PTRS, 0, 6, 0x33);
    code[n++] = enc_i(0, 6, loads[rnd() % 8 ? 0 : rnd() % 4], 5, 0x03);
    code[n++] = enc_r(0, 5, 7, 0, 7, 0x33); /* add x7, x7, x5 */
    if (rnd() % 2) /* frflags x0: a translation ends here, the loop is blocks */
        code[n++] = 0x00102073u;
    if (rnd() % 4 == 0) /* a store back, a word: to a page mapped without W, a fault */
        code[n++] = enc_s(rnd() % 2 ? 4 : 0, 7, 6, rnd() % 2 ? 2 : 3, 0x23);
    if (rnd() % 4 == 0) code[n++] = small_insn();
    if (rnd() % 6 == 0) /* sw x7, 0(x8): the CLINT's msip, an event for the hart */
        code[n++] = enc_s(0, 7, 8, 2, 0x23);
    return park(code, count_down(code, n, 9));
}

/* The starting state of a chase: S or U mode with x10 at the scattered
 * window (sometimes M mode over DATA itself); its 8 pages in random order,
 * sometimes two the same, sometimes read-only, unmapped or without A;
 * the data's words mostly indices into it. */
static void chase_setup(struct diff_setup *st, uint8_t *data)
{
    st->budget = 1 + (unsigned)(rnd() % 2000);
    st->fs = 1; /* frflags may run */
    unsigned m = (unsigned)(rnd() % 5);
    st->priv = m < 2 ? PRV_S : m < 4 ? PRV_U : PRV_M;
    for (unsigned r = 1; r < 32; r++)
        st->x[r] = random_value();
    st->x[5] = rnd() % 8192;
    st->x[8] = VIRT_CLINT_BASE;
    st->x[9] = 1 + rnd() % 600;
    st->x[PTRS] = st->priv == PRV_M ? VM_RAM_BASE + DATA : SCAT_VA;
    st->scatter = 1;
    for (unsigned i = 0; i < 8; i++)
        st->page[i] = (uint8_t)i;
    for (unsigned i = 7; i > 0; i--) { /* shuffled */
        unsigned j = (unsigned)(rnd() % (i + 1));
        uint8_t t = st->page[i];
        st->page[i] = st->page[j];
        st->page[j] = t;
    }
    for (unsigned i = 0; i < 8; i++) {
        st->pte_flags[i] = 0xc7 | (st->priv == PRV_U ? 0x10 : 0); /* V R W A D */
        if (rnd() % 16 == 0) st->page[i] = (uint8_t)(rnd() % 8);
        if (rnd() % 24 == 0) st->pte_flags[i] &= ~0x04; /* read-only */
        if (rnd() % 32 == 0) st->pte_flags[i] = 0;
        if (rnd() % 32 == 0) st->pte_flags[i] &= ~0x40; /* not accessed */
    }
    for (size_t i = 0; i < 0x8000; i += 4) {
        uint32_t v = rnd() % 32 ? (uint32_t)(rnd() % 8192) : (uint32_t)rnd();
        memcpy(data + i, &v, 4);
    }
}

/* An element of an array at x10 (or, sometimes, anywhere: a fault) loaded
 * or stored: andi x7, xi, 63; slli x6, x7, k; add x6, x6, x10 (either
 * order); then the access through x6, which the translator addresses from
 * x10 and x7 at once. Sometimes a branch skips the slli (the add is then a
 * target), or the slli or the add reads x6 itself: not that shape; or an
 * ecall follows the add instead (where a translation ends). Returns the
 * words written (5). */
static unsigned element_access(uint32_t *code)
{
    unsigned k = (unsigned)(rnd() % 5), r = (unsigned)(rnd() % 6), n = 0;
    unsigned i = rnd() % 8 ? 7 : 6, base = rnd() % 8 ? PTRS : 6;
    code[n++] = rnd() % 8 ? enc_i(63, r, 7, 7, 0x13) : enc_i(0, r, 0, 7, 0x13);  /* andi / mv */
    code[n++] = rnd() % 4 ? 0x00000013u : enc_b(8, (unsigned)(rnd() % 6), r, 0); /* beq .+8 */
    code[n++] = enc_i((int32_t)k, i, 1, 6, 0x13);                                /* slli */
    code[n++] = rnd() % 2 ? enc_r(0, base, 6, 0, 6, 0x33) : enc_r(0, 6, base, 0, 6, 0x33);
    int32_t off = 8 * (int32_t)(rnd() % 8) - 32;
    if (rnd() % 8 == 0)
        code[n++] = 0x00000073u; /* ecall: the translation ends after the add */
    else if (rnd() % 2)
        code[n++] = enc_i(off, 6, (unsigned)(rnd() % 7), (unsigned)(rnd() % 6), 0x03);
    else
        code[n++] = enc_s(off, (unsigned)(rnd() % 6), 6, (unsigned)(rnd() % 4), 0x23);
    return n;
}

/* An instruction the translator may if-convert (select_op) on x0..x5, or
 * any small_insn. */
static uint32_t select_or_small(void)
{
    unsigned rd = (unsigned)(rnd() % 6), r1 = (unsigned)(rnd() % 6), r2 = (unsigned)(rnd() % 6);
    int32_t imm = (int32_t)(rnd() % 4096) - 2048;
    static const unsigned i_f3[4] = {0, 4, 6, 7}; /* addi xori ori andi */
    static const unsigned r_f3[5] = {0, 0, 4, 6, 7}, r_f7[5] = {0, 0x20, 0, 0, 0}; /* add sub ... */
    switch (rnd() % 6) {
    case 0: return enc_i(imm, r1, i_f3[rnd() % 4], rd, 0x13);
    case 1: return enc_i(imm, r1, 0, rd, 0x1b); /* addiw */
    case 2: {
        unsigned k = (unsigned)(rnd() % 5);
        return enc_r(r_f7[k], r2, r1, r_f3[k], rd, 0x33);
    }
    case 3: return enc_r(rnd() % 2 ? 0x20 : 0, r2, r1, 0, rd, 0x3b);  /* addw subw */
    case 4: return ((uint32_t)rnd() & 0xfffff000u) | rd << 7 | 0x37u; /* lui */
    default: return small_insn();
    }
}

/* A loop whose branch goes to a tail of one instruction (or none) and a
 * jump back, over one instruction of its own: back to the branch after
 * it, or to the loop's first branch, which decides as the last one does
 * (a binary search's shape), or sometimes not quite; and sometimes a
 * branch over one instruction: the translator's if-conversions, or their
 * refusal. Returns the length in words. */
static unsigned select_loop_code(uint32_t *code)
{
    static const unsigned f3s[6] = {0, 1, 4, 5, 6, 7};
    unsigned n = 0, f3 = f3s[rnd() % 6], r1 = (unsigned)(rnd() % 6), r2 = (unsigned)(rnd() % 6);
    code[n] = enc_b(4 * 6, r2, r1, f3); /* 0: out unless... */
    n++;
    if (rnd() % 2) /* 1: the loop; sometimes a branch over the next one (a hammock) */
        code[n] = enc_b(8, (unsigned)(rnd() % 6), (unsigned)(rnd() % 6), f3s[rnd() % 6]);
    else
        code[n] = select_or_small();
    n++;
    code[n++] = select_or_small();
    code[n] = enc_b(4 * (8 - 3), (unsigned)(rnd() % 6), (unsigned)(rnd() % 6), f3s[rnd() % 6]);
    n++;                           /* 3: to the tail */
    code[n++] = select_or_small(); /* 4: the fall-through */
    unsigned y2 = rnd() % 8 ? r2 : (unsigned)(rnd() % 6), yf = rnd() % 8 ? f3 ^ 1 : f3;
    code[n] = enc_b(4 * (1 - 5), y2, r1, yf); /* 5: back, as 0 decides (mostly) */
    n++;
    code[n++] = 0x00108093u; /* 6: addi x1, x1, 1; j .-4 */
    code[n++] = 0xffdff06fu;
    if (rnd() % 4) code[n++] = select_or_small(); /* 8: the tail */
    unsigned back = rnd() % 2 ? 0 : rnd() % 2 ? 5 : (unsigned)(rnd() % 6);
    code[n] = enc_j(4 * ((int32_t)back - (int32_t)n), 0);
    return n + 1;
}

/* The starting state of such loops: registers mostly small, so that their
 * comparisons go both ways. */
static void select_loop_setup(struct diff_setup *st, uint8_t *data)
{
    tail_loop_setup(st, data);
    for (unsigned r = 1; r < 6; r++)
        if (rnd() % 4) st->x[r] = rnd() % 64;
}

/* Pieces of code that each end in a jump to one of them (back, forward
 * or itself; JAL x0 or a call's JAL x1), sometimes a JALR to the start,
 * sometimes after an rdcycle; with branches to the pieces' starts: the
 * translator's traces, which go on at a JAL's target. Returns the length
 * in words. */
static unsigned trace_code(uint32_t *code)
{
    unsigned nseg = 2 + (unsigned)(rnd() % 3), len[4], elem[4], start[4], n = 0;
    for (unsigned i = 0; i < nseg; i++) { /* at most 4 + 5 + 3 words each */
        len[i] = 1 + (unsigned)(rnd() % 4);
        elem[i] = rnd() % 3 == 0;
        start[i] = n;
        n += len[i] + 5 * elem[i] + 2 + 1; /* an element, a branch or an rdcycle, the jump */
    }
    n = 0;
    for (unsigned i = 0; i < nseg; i++) {
        for (unsigned j = 0; j < len[i]; j++) /* sometimes an rdcycle first: a trace stops */
            code[n++] = j == 0 && rnd() % 6 == 0 ? 0xc0002573u : small_insn();
        if (elem[i]) n += element_access(code + n);
        unsigned to = start[rnd() % nseg];
        switch (rnd() % 4) {
        case 0: code[n] = 0xc0002573u; break; /* rdcycle x10: the trace ends before it */
        case 1: code[n] = 0x00000013u; break;
        default:
            code[n] = enc_b(4 * ((int32_t)to - (int32_t)n), (unsigned)(rnd() % 6),
                            (unsigned)(rnd() % 6), (unsigned)(rnd() % 8 == 0 ? 1 : rnd() % 2 + 4));
        }
        n++;
        code[n++] = small_insn();
        to = start[rnd() % nseg];
        if (rnd() % 8 == 0)
            code[n] = enc_i(0, PTRS + 4, 0, 0, 0x67); /* jr x14 (the start) */
        else
            code[n] = enc_j(4 * ((int32_t)to - (int32_t)n), rnd() % 3 ? 0 : 1);
        n++;
    }
    return n;
}

/* The starting state of traces: any privilege, x10 sometimes into the
 * code (stores into it), sometimes misaligned. */
static void trace_setup(struct diff_setup *st, uint8_t *data)
{
    tail_loop_setup(st, data);
    st->budget = 1 + (unsigned)(rnd() % 600);
    st->x[PTRS + 4] = VM_RAM_BASE + CODE;
}

/* A loop after some set-up in the same block, at the default hotness: the
 * interpreter runs the block once, and the loop's jumps back within it
 * must still get the loop counted and translated, early (a loop with
 * softfloat work interpreted for 64 polls of 2048 iterations had cost the
 * float kernel half its speed). The state after it is the interpreter's. */
static void test_inner_loop_hot(void)
{
    struct vm *vj = engine_vm_hot(VM_ENGINE_JIT, 0), *vi = engine_vm(VM_ENGINE_INTERP);
    if (!vj || !vi) return;
    static const uint32_t code[] = {
        0x3e800293u, /* li x5, 1000 */
        0x00000313u, /* li x6, 0 */
        0x00330313u, /* loop: addi x6, x6, 3 */
        0xfff28293u, /* addi x5, x5, -1 */
        0xfe029ce3u, /* bnez x5, loop */
        0x00108093u, /* addi x1, x1, 1; j .-4 */
        0xffdff06fu,
    };
    static uint8_t data[0x8000];
    struct diff_setup st = {.priv = PRV_M, .budget = 200000}; /* polls far apart */
    prepare(vj, (const uint8_t *)code, sizeof(code), data, &st);
    prepare(vi, (const uint8_t *)code, sizeof(code), data, &st);
    run_for(vj->harts[0], st.budget);
    run_for(vi->harts[0], st.budget);
    char why[160];
    CHECK(&c, same_state(vj, vi, why, sizeof(why)), "inner loop: %s", why);
    CHECK(&c, vj->harts[0]->x[6] == 3000, "inner loop: x6 = %llu",
          (unsigned long long)vj->harts[0]->x[6]);
    uint64_t head = VM_RAM_BASE + CODE + 8;
    const struct block *lb = vj->harts[0]->bc.slot[(head >> 1) & ((1u << BCACHE_BITS) - 1)];
    CHECK(&c, lb && lb->paddr == head && lb->native,
          "a 1000-iteration loop inside a block was not translated");
    vm_destroy(vj);
    vm_destroy(vi);
}

/* --jit-dump shows a trace: a block whose JAL goes back (below the
 * block's pc) into code that ends in a JALR is dumped with that code as
 * its trace, and the state after it is the interpreter's. */
static void test_trace_dump(void)
{
    static const uint32_t code[] = {
        0x00c0006fu, /* j start */
        0x00310113u, /* back: addi x2, x2, 3 */
        0x00070067u, /* jr x14 */
        0x00108093u, /* start: addi x1, x1, 1 */
        0xff5ff06fu, /* j back */
    };
    struct vm *vj = engine_vm(VM_ENGINE_JIT), *vi = engine_vm(VM_ENGINE_INTERP);
    if (!vj || !vi) return;
    static uint8_t data[0x8000];
    struct diff_setup st = {.priv = PRV_M, .budget = 401}; /* j, then 100 rounds */
    st.x[PTRS + 4] = VM_RAM_BASE + CODE + 12;              /* the JALR goes to start */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    prepare(vj, (const uint8_t *)code, sizeof(code), data, &st);
    prepare(vi, (const uint8_t *)code, sizeof(code), data, &st);
    vj->jit_dump = f;
    run_for(vj->harts[0], st.budget);
    run_for(vi->harts[0], st.budget);
    vj->jit_dump = NULL;
    fclose(f);
    char why[160];
    CHECK(&c, same_state(vj, vi, why, sizeof(why)), "a trace: %s", why);
    CHECK(&c, vj->harts[0]->x[1] == 100 && vj->harts[0]->x[2] == 300, "x1 %llu x2 %llu",
          (unsigned long long)vj->harts[0]->x[1], (unsigned long long)vj->harts[0]->x[2]);
    CHECK(&c,
          text && strstr(text, "2 of 2 instructions and a trace of 2") &&
              strstr(text, "trace:\n  -008  00310113  ADDI") && strstr(text, "JALR"),
          "the dump shows the trace: %s", text ? text : "(none)");
    free(text);
    vm_destroy(vj);
    vm_destroy(vi);
}

/* A kind of loop the translator treats apart: its code (at most 48
 * words) and its starting state (budget, registers, data). */
struct loop_kind {
    const char *what;
    unsigned runs;
    unsigned (*code)(uint32_t *code);
    void (*setup)(struct diff_setup *st, uint8_t *data);
    int kick; /* another thread makes the translating hart's events pending */
};

/* Events from another thread, as a device's interrupt or a remote fence
 * raises them, over and over: translated code leaves wherever it looks at
 * them (a block's entry, a loop's back edge), and must account for every
 * instruction it ran before. */
struct kicker {
    struct hart *h;
    atomic_int stop;
    unsigned kicks;
};

static void *kick_loop(void *arg)
{
    struct kicker *k = arg;
    for (unsigned i = 0; !atomic_load_explicit(&k->stop, memory_order_relaxed); i++)
        if (i % 256 == 0) {
            atomic_fetch_or(&k->h->events, HART_EV_IRQ);
            k->kicks++;
        }
    return NULL;
}

/* Loops of one kind from random states, on both engines: the same state
 * after the budget (or a stop of the hart's own). */
static void test_loops(const struct loop_kind *k)
{
    struct vm *vj = engine_vm(VM_ENGINE_JIT), *vi = engine_vm(VM_ENGINE_INTERP);
    if (!vj || !vi) return;
    unsigned bad = 0;
    static uint8_t data[0x8000];
    struct kicker kk = {.h = vj->harts[0]};
    pthread_t kicker;
    int kicking = k->kick && pthread_create(&kicker, NULL, kick_loop, &kk) == 0;
    CHECK(&c, kicking || !k->kick, "%s: no thread to raise events", k->what);
    for (unsigned iter = 0; iter < k->runs; iter++) {
        uint32_t code[48];
        unsigned n = k->code(code);
        struct diff_setup st = {.priv = PRV_M};
        k->setup(&st, data);
        prepare(vj, (const uint8_t *)code, 4 * n, data, &st);
        prepare(vi, (const uint8_t *)code, 4 * n, data, &st);
        run_for(vj->harts[0], st.budget);
        run_for(vi->harts[0], st.budget);
        char why[160];
        if (!same_state(vj, vi, why, sizeof(why)) && bad++ < 5)
            fprintf(stderr, "%s %u (budget %u): %s\n", k->what, iter, st.budget, why);
    }
    if (kicking) {
        atomic_store(&kk.stop, 1);
        pthread_join(kicker, NULL);
        CHECK(&c, kk.kicks > 0, "%s: no events raised", k->what);
    }
    CHECK(&c, bad == 0, "%u of %u %s differ between the engines", bad, k->runs, k->what);
    vm_destroy(vj);
    vm_destroy(vi);
}

int main(void)
{
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
        fprintf(stderr, "capstone unavailable\n");
        return 1;
    }
    test_encodings();
    cs_close(&cs);
    test_differential();
    test_fp_fastpath();
    /* the fast copy (FS, NX and frm checked once at the loop's entry,
     * singles unboxed in xmm): every FS state, NX set or not, registers
     * boxed or not, left from the middle or stopped by the budget */
    test_loops(&(struct loop_kind){"F/D loops", 1500, fp_loop_code, fp_loop_setup});
    /* tails: every privilege, faults, stores into their own code */
    test_loops(&(struct loop_kind){"loops with tails", 3000, tail_loop_code, tail_loop_setup});
    /* division by the divisor's value at translation, which the loop's
     * entry finds again or not */
    test_loops(
        &(struct loop_kind){"loops dividing by an invariant", 3000, div_loop_code, div_loop_setup});
    /* traces through JALs: faults, stores into their code, budgets that
     * stop them in the middle, exits by branches and by the JALR */
    test_loops(&(struct loop_kind){"traces", 3000, trace_code, trace_setup});
    test_trace_dump();
    test_inner_loop_hot();
    /* if-conversion: a binary search's step, selects and their refusals */
    test_loops(
        &(struct loop_kind){"if-converted loops", 3000, select_loop_code, select_loop_setup});
    /* pointer chases over pages scattered by Sv39: the access slots */
    test_loops(&(struct loop_kind){"pointer chases", 3000, chase_code, chase_setup});
    /* and with events raised from another thread at any moment */
    test_loops(&(struct loop_kind){"loops with tails, interrupted", 3000, tail_loop_code,
                                   tail_loop_setup, 1});
    test_loops(
        &(struct loop_kind){"pointer chases, interrupted", 3000, chase_code, chase_setup, 1});
    return check_report(&c, "test_jit");
}
