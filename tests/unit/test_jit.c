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

static void test_differential(void)
{
    char err[256];
    struct vm_config cfg = {.ram_size = 1 << 20, .ncpus = 1};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    CHECK(&c, vm && virt_board_create(vm, err, sizeof(err)) == 0, "vm: %s", err);
    if (!vm) return;
    struct hart *h = vm->harts[0];
    size_t cap = 1 << 16;
    uint8_t *code = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(&c, code != MAP_FAILED, "mmap");
    if (code == MAP_FAILED) return;
    unsigned blocks = 0, insns = 0, bad = 0;
    for (unsigned iter = 0; iter < 3000; iter++) {
        unsigned n = 1 + (unsigned)(rnd() % 24);
        uint32_t raw[24];
        struct insn ins[24];
        for (unsigned i = 0; i < n; i++) {
            raw[i] = random_insn();
            insn_decode(raw[i], &ins[i]);
        }
        uint64_t pc = VM_RAM_BASE + 0x1000 * (1 + iter % 64);
        memcpy(vm->ram + (pc - VM_RAM_BASE), raw, 4 * n);
        uint64_t init[32];
        for (unsigned r = 0; r < 32; r++)
            init[r] = r ? random_value() : 0;
        /* translated */
        mprotect(code, cap, PROT_READ | PROT_WRITE);
        struct x86buf b;
        x86_init(&b, code, cap);
        int done = jit_translate(ins, n, pc, &b);
        mprotect(code, cap, PROT_READ | PROT_EXEC);
        uint64_t jx[33];
        memcpy(jx, init, sizeof(init));
        jx[32] = 0;
        void (*fn)(uint64_t *) = NULL;
        memcpy(&fn, &(void *){code}, sizeof(fn));
        fn(jx);
        /* interpreted, from the same state */
        hart_reset(h, pc);
        memcpy(h->x, init, sizeof(init));
        hart_run(h, n, 0);
        int same = done == (int)n && h->pc == pc + 4 * n && !memcmp(h->x, jx, sizeof(init));
        if (!same && bad++ < 5) {
            for (unsigned r = 0; r < 32; r++)
                if (h->x[r] != jx[r])
                    fprintf(stderr, "block %u: x%u interp %016llx jit %016llx\n", iter, r,
                            (unsigned long long)h->x[r], (unsigned long long)jx[r]);
            for (unsigned i = 0; i < n; i++)
                fprintf(stderr, "  %08x %s\n", raw[i], insn_name(ins[i].op));
        }
        blocks++;
        insns += n;
    }
    CHECK(&c, bad == 0, "%u of %u random blocks (%u instructions) differ", bad, blocks, insns);
    munmap(code, cap);
    vm_destroy(vm);
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
    return check_report(&c, "test_jit");
}
