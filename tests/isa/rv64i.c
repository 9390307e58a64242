/*
 * RV64I: every base integer instruction (unprivileged spec chapters 2 and 5).
 *
 * Expected values are compile-time constants: the tables below are built
 * with C constant expressions that GCC folds on the build host, so the
 * instruction under test is never used to compute its own expected result.
 */
#include "common.h"

/* ---- operand values and cross-product tables ---- */

#define FOR_A(G)                                                                               \
    G(0x0ull) G(0x1ull) G(0x2ull) G(0x1full) G(0x21ull) G(0x3full) G(0x40ull)               \
    G(0x7fffffffull) G(0x80000000ull) G(0xffffffffull) G(0x100000000ull)                      \
    G(0xffffffff80000000ull) G(0x7fffffffffffffffull) G(0x8000000000000000ull)               \
    G(0xffffffffffffffffull) G(0xfffffffffffffffeull) G(0x123456789abcdef0ull)               \
    G(0x5555555555555555ull)
#define FOR_B(F, a)                                                                            \
    F(a, 0x0ull) F(a, 0x1ull) F(a, 0x2ull) F(a, 0x1full) F(a, 0x21ull) F(a, 0x3full)         \
    F(a, 0x40ull) F(a, 0x7fffffffull) F(a, 0x80000000ull) F(a, 0xffffffffull)                 \
    F(a, 0x100000000ull) F(a, 0xffffffff80000000ull) F(a, 0x7fffffffffffffffull)             \
    F(a, 0x8000000000000000ull) F(a, 0xffffffffffffffffull) F(a, 0xfffffffffffffffeull)      \
    F(a, 0x123456789abcdef0ull) F(a, 0x5555555555555555ull)

#define S64(v) ((i64)(v))
#define W32(v) ((u64)(i64)(i32)(u32)(v))

struct rr {
    u64 a, b;
    u64 add, sub, sll, slt, sltu, xor_, srl, sra, or_, and_;
    u64 addw, subw, sllw, srlw, sraw;
    u8 beq, bne, blt, bge, bltu, bgeu;
};

#define RR_ENTRY(a, b)                                                                         \
    {(a), (b), (a) + (b), (a) - (b), (a) << ((b)&63), S64(a) < S64(b), (a) < (b), (a) ^ (b),   \
     (a) >> ((b)&63), (u64)(S64(a) >> ((b)&63)), (a) | (b), (a) & (b), W32((a) + (b)),         \
     W32((a) - (b)), W32((u32)(a) << ((b)&31)), W32((u32)(a) >> ((b)&31)),                     \
     (u64)(i64)((i32)(u32)(a) >> ((b)&31)), (a) == (b), (a) != (b), S64(a) < S64(b),           \
     S64(a) >= S64(b), (a) < (b), (a) >= (b)},
#define RR_ROW(a) FOR_B(RR_ENTRY, a)
static const struct rr rr_tab[] = {FOR_A(RR_ROW)};
#define N_RR (sizeof(rr_tab) / sizeof(rr_tab[0]))

/* ---- instruction wrappers ---- */

#define OP_RR(insn, a, b)                                                                      \
    ({                                                                                         \
        u64 _r;                                                                                \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(_r) : "r"((u64)(a)), "r"((u64)(b)));        \
        _r;                                                                                    \
    })
#define OP_RI(insn, a, imm)                                                                    \
    ({                                                                                         \
        u64 _r;                                                                                \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(_r) : "r"((u64)(a)), "i"(imm));            \
        _r;                                                                                    \
    })
/* 1 when the branch is taken */
#define BR(insn, a, b)                                                                         \
    ({                                                                                         \
        u64 _t;                                                                                \
        __asm__ volatile("li %0, 1\n\t" insn " %1, %2, 1f\n\tli %0, 0\n1:"                     \
                         : "=&r"(_t)                                                           \
                         : "r"((u64)(a)), "r"((u64)(b)));                                      \
        _t;                                                                                    \
    })

static void test_rr(void)
{
    for (unsigned i = 0; i < N_RR; i++) {
        const struct rr *t = &rr_tab[i];
        u64 a = t->a, b = t->b;
        CHECKI("add", i, OP_RR("add", a, b), t->add);
        CHECKI("sub", i, OP_RR("sub", a, b), t->sub);
        CHECKI("sll", i, OP_RR("sll", a, b), t->sll);
        CHECKI("slt", i, OP_RR("slt", a, b), t->slt);
        CHECKI("sltu", i, OP_RR("sltu", a, b), t->sltu);
        CHECKI("xor", i, OP_RR("xor", a, b), t->xor_);
        CHECKI("srl", i, OP_RR("srl", a, b), t->srl);
        CHECKI("sra", i, OP_RR("sra", a, b), t->sra);
        CHECKI("or", i, OP_RR("or", a, b), t->or_);
        CHECKI("and", i, OP_RR("and", a, b), t->and_);
        CHECKI("addw", i, OP_RR("addw", a, b), t->addw);
        CHECKI("subw", i, OP_RR("subw", a, b), t->subw);
        CHECKI("sllw", i, OP_RR("sllw", a, b), t->sllw);
        CHECKI("srlw", i, OP_RR("srlw", a, b), t->srlw);
        CHECKI("sraw", i, OP_RR("sraw", a, b), t->sraw);
        CHECKI("beq", i, BR("beq", a, b), t->beq);
        CHECKI("bne", i, BR("bne", a, b), t->bne);
        CHECKI("blt", i, BR("blt", a, b), t->blt);
        CHECKI("bge", i, BR("bge", a, b), t->bge);
        CHECKI("bltu", i, BR("bltu", a, b), t->bltu);
        CHECKI("bgeu", i, BR("bgeu", a, b), t->bgeu);
    }
    /* a few hand-written spot checks of the same semantics */
    CHECK("add wrap", OP_RR("add", 0x7fffffffffffffffull, 1), 0x8000000000000000ull);
    CHECK("sub borrow", OP_RR("sub", 0, 1), ~0ull);
    CHECK("sll mask 64", OP_RR("sll", 1, 64), 1);
    CHECK("sll mask 127", OP_RR("sll", 1, 127), 0x8000000000000000ull);
    CHECK("srl mask 65", OP_RR("srl", 0x8000000000000000ull, 65), 0x4000000000000000ull);
    CHECK("sra 63", OP_RR("sra", 0x8000000000000000ull, 63), ~0ull);
    CHECK("sra mask -1", OP_RR("sra", 0x8000000000000000ull, ~0ull), ~0ull);
    CHECK("slt -1<0", OP_RR("slt", ~0ull, 0), 1);
    CHECK("sltu -1<0", OP_RR("sltu", ~0ull, 0), 0);
    CHECK("sltu 0<-1", OP_RR("sltu", 0, ~0ull), 1);
    CHECK("slt min<max", OP_RR("slt", 0x8000000000000000ull, 0x7fffffffffffffffull), 1);
    CHECK("addw ovf", OP_RR("addw", 0x7fffffff, 1), 0xffffffff80000000ull);
    CHECK("addw hi ignored", OP_RR("addw", 0xabcdef0000000001ull, 0x1234560000000002ull), 3);
    CHECK("subw", OP_RR("subw", 0x80000000, 1), 0x7fffffff);
    CHECK("subw neg", OP_RR("subw", 0, 1), ~0ull);
    CHECK("sllw 31", OP_RR("sllw", 1, 31), 0xffffffff80000000ull);
    CHECK("sllw mask 32", OP_RR("sllw", 3, 32), 3);
    CHECK("sllw mask 63", OP_RR("sllw", 1, 63), 0xffffffff80000000ull);
    CHECK("srlw 0 bit31", OP_RR("srlw", 0x80000000, 0), 0xffffffff80000000ull);
    CHECK("srlw 1 bit31", OP_RR("srlw", 0xffffffff80000000ull, 1), 0x40000000);
    CHECK("srlw mask 33", OP_RR("srlw", 0x80000000, 33), 0x40000000);
    CHECK("srlw 31", OP_RR("srlw", 0x80000000, 31), 1);
    CHECK("sraw 31", OP_RR("sraw", 0x80000000, 31), ~0ull);
    CHECK("sraw hi ignored", OP_RR("sraw", 0x00000000f0000000ull, 4), 0xffffffffff000000ull);
    CHECK("sraw mask 36", OP_RR("sraw", 0x7fff0000, 36), 0x07fff000);
    /* aliasing: rd == rs1 == rs2 */
    {
        u64 v = 0x4000000000000001ull;
        __asm__ volatile("add %0, %0, %0" : "+r"(v));
        CHECK("add rd=rs1=rs2", v, 0x8000000000000002ull);
        v = 5;
        __asm__ volatile("sub %0, %0, %0" : "+r"(v));
        CHECK("sub self", v, 0);
        v = 0x21;
        __asm__ volatile("sll %0, %0, %0" : "+r"(v));
        CHECK("sll self", v, 0x21ull << 33);
    }
}

/* ---- register-immediate forms ---- */

/* F(a) for a handful of operand values */
#define FOR_IA(F, ...)                                                                         \
    F(0x0ull, __VA_ARGS__) F(0x1ull, __VA_ARGS__) F(0x7ffull, __VA_ARGS__)                     \
    F(0x800ull, __VA_ARGS__) F(0x7fffffffull, __VA_ARGS__) F(0x80000000ull, __VA_ARGS__)       \
    F(0xffffffffull, __VA_ARGS__) F(0xffffffff80000000ull, __VA_ARGS__)                        \
    F(0x7fffffffffffffffull, __VA_ARGS__) F(0x8000000000000000ull, __VA_ARGS__)               \
    F(0xffffffffffffffffull, __VA_ARGS__) F(0xfffffffffffff800ull, __VA_ARGS__)               \
    F(0x123456789abcdef0ull, __VA_ARGS__)

#define SXI(imm) ((u64)(i64)(imm))
#define E_ADDI(a, i) ((a) + SXI(i))
#define E_SLTI(a, i) ((u64)(S64(a) < (i64)(i)))
#define E_SLTIU(a, i) ((u64)((a) < SXI(i)))
#define E_XORI(a, i) ((a) ^ SXI(i))
#define E_ORI(a, i) ((a) | SXI(i))
#define E_ANDI(a, i) ((a) & SXI(i))
#define E_SLLI(a, i) ((a) << (i))
#define E_SRLI(a, i) ((a) >> (i))
#define E_SRAI(a, i) ((u64)(S64(a) >> (i)))
#define E_ADDIW(a, i) W32((a) + SXI(i))
#define E_SLLIW(a, i) W32((u32)(a) << (i))
#define E_SRLIW(a, i) W32((u32)(a) >> (i))
#define E_SRAIW(a, i) ((u64)(i64)((i32)(u32)(a) >> (i)))

static int imm_case;
#define ONE_IMM(a, insn, imm, E) CHECKI(insn " " #imm, imm_case++, OP_RI(insn, a, imm), E(a, imm));
#define IMM_ALL(insn, imm, E) FOR_IA(ONE_IMM, insn, imm, E)

static void test_imm(void)
{
    imm_case = 0;
    IMM_ALL("addi", 0, E_ADDI);
    IMM_ALL("addi", 1, E_ADDI);
    IMM_ALL("addi", -1, E_ADDI);
    IMM_ALL("addi", 2047, E_ADDI);
    IMM_ALL("addi", -2048, E_ADDI);
    IMM_ALL("slti", 0, E_SLTI);
    IMM_ALL("slti", -1, E_SLTI);
    IMM_ALL("slti", 2047, E_SLTI);
    IMM_ALL("slti", -2048, E_SLTI);
    IMM_ALL("sltiu", 0, E_SLTIU);
    IMM_ALL("sltiu", 1, E_SLTIU); /* seqz */
    IMM_ALL("sltiu", -1, E_SLTIU); /* compares against 2^64-1 */
    IMM_ALL("sltiu", 2047, E_SLTIU);
    IMM_ALL("sltiu", -2048, E_SLTIU);
    IMM_ALL("xori", -1, E_XORI); /* not */
    IMM_ALL("xori", 0x555, E_XORI);
    IMM_ALL("xori", -2048, E_XORI);
    IMM_ALL("ori", -2048, E_ORI);
    IMM_ALL("ori", 0x7ff, E_ORI);
    IMM_ALL("ori", 0, E_ORI);
    IMM_ALL("andi", -1, E_ANDI);
    IMM_ALL("andi", -2048, E_ANDI);
    IMM_ALL("andi", 0x7ff, E_ANDI);
    IMM_ALL("andi", 0, E_ANDI);
    IMM_ALL("slli", 0, E_SLLI);
    IMM_ALL("slli", 1, E_SLLI);
    IMM_ALL("slli", 31, E_SLLI);
    IMM_ALL("slli", 32, E_SLLI);
    IMM_ALL("slli", 63, E_SLLI);
    IMM_ALL("srli", 0, E_SRLI);
    IMM_ALL("srli", 1, E_SRLI);
    IMM_ALL("srli", 32, E_SRLI);
    IMM_ALL("srli", 63, E_SRLI);
    IMM_ALL("srai", 0, E_SRAI);
    IMM_ALL("srai", 1, E_SRAI);
    IMM_ALL("srai", 32, E_SRAI);
    IMM_ALL("srai", 63, E_SRAI);
    IMM_ALL("addiw", 0, E_ADDIW); /* sext.w */
    IMM_ALL("addiw", 1, E_ADDIW);
    IMM_ALL("addiw", -1, E_ADDIW);
    IMM_ALL("addiw", 2047, E_ADDIW);
    IMM_ALL("addiw", -2048, E_ADDIW);
    IMM_ALL("slliw", 0, E_SLLIW);
    IMM_ALL("slliw", 1, E_SLLIW);
    IMM_ALL("slliw", 31, E_SLLIW);
    IMM_ALL("srliw", 0, E_SRLIW);
    IMM_ALL("srliw", 1, E_SRLIW);
    IMM_ALL("srliw", 31, E_SRLIW);
    IMM_ALL("sraiw", 0, E_SRAIW);
    IMM_ALL("sraiw", 1, E_SRAIW);
    IMM_ALL("sraiw", 31, E_SRAIW);
    /* hand-written */
    CHECK("addiw ovf", OP_RI("addiw", 0x7fffffff, 1), 0xffffffff80000000ull);
    CHECK("addiw sext", OP_RI("addiw", 0x12345678deadbeefull, 0), 0xffffffffdeadbeefull);
    CHECK("srliw 0 sext", OP_RI("srliw", 0xf0000000ull, 0), 0xfffffffff0000000ull);
    CHECK("sraiw 31", OP_RI("sraiw", 0x80000000ull, 31), ~0ull);
    CHECK("slliw 31", OP_RI("slliw", 0xffffffff00000001ull, 31), 0xffffffff80000000ull);
    CHECK("sltiu seqz 0", OP_RI("sltiu", 0, 1), 1);
    CHECK("sltiu -1,-1", OP_RI("sltiu", ~0ull, -1), 0);
    CHECK("sltiu -2,-1", OP_RI("sltiu", ~1ull, -1), 1);
    CHECK("slti -2048", OP_RI("slti", 0xfffffffffffff7ffull, -2048), 1);
    CHECK("andi sext", OP_RI("andi", ~0ull, -2048), 0xfffffffffffff800ull);
}

/* ---- LUI / AUIPC ---- */
#define LUI(imm)                                                                               \
    ({                                                                                         \
        u64 _r;                                                                                \
        __asm__ volatile("lui %0, %1" : "=r"(_r) : "i"(imm));                                 \
        _r;                                                                                    \
    })

static void test_lui_auipc(void)
{
    CHECK("lui 0", LUI(0), 0);
    CHECK("lui 1", LUI(1), 0x1000);
    CHECK("lui 0x7ffff", LUI(0x7ffff), 0x7ffff000);
    CHECK("lui 0x80000", LUI(0x80000), 0xffffffff80000000ull);
    CHECK("lui 0xfffff", LUI(0xfffff), 0xfffffffffffff000ull);
    CHECK("lui 0x12345", LUI(0x12345), 0x12345000);

    u64 r0, r1, r2, r3, here;
    __asm__ volatile(".option push\n\t.option norvc\n"
                     "1: auipc %0, 0\n\t"
                     "auipc %1, 1\n\t"
                     "auipc %2, 0x80000\n\t"
                     "auipc %3, 0xfffff\n\t"
                     ".option pop\n\t"
                     "lla %4, 1b"
                     : "=&r"(r0), "=&r"(r1), "=&r"(r2), "=&r"(r3), "=&r"(here));
    CHECK("auipc 0", r0, here);
    CHECK("auipc 1", r1, here + 4 + 0x1000);
    CHECK("auipc 0x80000", r2, here + 8 + 0xffffffff80000000ull);
    CHECK("auipc -1", r3, here + 12 - 0x1000);
}

/* ---- JAL / JALR ---- */
extern char jal_fwd_link[], jal_fwd_target[], jal_bwd_link[], far_back[];
u64 jal_test(u64 *link1, u64 *link2, u64 *link3);
u64 jal_far(u64 *link);
__asm__(".text\n"
        ".globl jal_test\n"
        "jal_test:\n\t"
        "li t1, 0\n\t"
        "jal t0, jal_fwd_target\n"
        ".globl jal_fwd_link\n"
        "jal_fwd_link:\n\t"
        "li t1, 99\n\t" /* skipped */
        "j 2f\n"
        "jal_back_target:\n\t"
        "addi t1, t1, 10\n\t"
        "sd t2, 8(a0)\n\t" /* link of the backward jal */
        "j 3f\n"
        ".globl jal_fwd_target\n"
        "jal_fwd_target:\n\t"
        "addi t1, t1, 1\n\t"
        "sd t0, 0(a0)\n\t"
        "jal t2, jal_back_target\n"
        ".globl jal_bwd_link\n"
        "jal_bwd_link:\n\t"
        "li t1, 77\n" /* skipped */
        "2: li t1, 55\n" /* skipped */
        "3:\n\t"
        /* jal x0 (j) must not write anything: x0 stays 0 */
        "jal x0, 4f\n\t"
        "li t1, 66\n"
        "4: add a1, x0, x0\n\t"
        "add t1, t1, a1\n\t"
        "mv a0, t1\n\t"
        "ret\n"
        /* jump over more than 2 KiB and back (imm bits 11..19) */
        ".globl jal_far\n"
        "jal_far:\n\t"
        "jal t0, far_target\n"
        ".globl far_back\n"
        "far_back:\n\t"
        "li a0, 1\n\t"
        "ret\n\t"
        ".skip 0x12340\n"
        "far_target:\n\t"
        "sd t0, 0(a0)\n\t"
        "j far_back\n");

static void test_jumps(void)
{
    u64 l[3] = {0, 0, 0};
    u64 r = jal_test(l, 0, 0);
    CHECK("jal result", r, 11);
    CHECK("jal link fwd", l[0], (u64)jal_fwd_link);
    CHECK("jal link bwd", l[1], (u64)jal_bwd_link);
    u64 fl = 0;
    CHECK("jal far", jal_far(&fl), 1);
    CHECK("jal far link", fl, (u64)far_back);

    /* jalr: target = (rs1 + imm) & ~1, link = pc + 4 */
    u64 link, tgt, got;
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "li %2, 0\n\t"
                     "lla t0, 1f\n\t"
                     "addi t0, t0, 1\n\t" /* odd address: bit 0 is cleared */
                     "jalr %0, 0(t0)\n\t"
                     "2: li %2, 99\n\t"
                     "1: lla %1, 2b\n\t"
                     "addi %2, %2, 1\n\t"
                     ".option pop"
                     : "=&r"(link), "=&r"(tgt), "=&r"(got)
                     :
                     : "t0");
    CHECK("jalr odd target", got, 1);
    CHECK("jalr link", link, tgt);
    /* positive and negative immediates, odd immediate */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "li %1, 0\n\t"
                     "lla t0, 1f + 100\n\t"
                     "jalr %0, -100(t0)\n\t"
                     "li %1, 99\n\t"
                     "1: addi %1, %1, 1\n\t"
                     "lla t0, 3f - 2047\n\t"
                     "jalr x0, 2047(t0)\n\t" /* 2047 is odd: (t0 + 2047) & ~1 */
                     "li %1, 98\n\t"
                     "3: addi %1, %1, 2\n\t"
                     ".option pop"
                     : "=&r"(link), "=&r"(got)
                     :
                     : "t0");
    CHECK("jalr imm", got, 3);
    /* rd == rs1: the target uses the old value */
    u64 t0v, exp;
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "lla %0, 1f\n\t"
                     "jalr %0, 0(%0)\n\t"
                     "2: j 3f\n\t"
                     "1: lla %1, 2b\n\t"
                     "3:\n\t"
                     ".option pop"
                     : "=&r"(t0v), "=&r"(exp));
    CHECK("jalr rd==rs1", t0v, exp);
    /* jalr x0 with ra as source: plain return path */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "li %0, 0\n\t"
                     "jal t1, 1f\n\t"
                     "addi %0, %0, 5\n\t"
                     "j 2f\n\t"
                     "1: addi %0, %0, 1\n\t"
                     "jalr x0, 0(t1)\n\t"
                     "2:\n\t"
                     ".option pop"
                     : "=&r"(got)
                     :
                     : "t1");
    CHECK("jalr ret", got, 6);
}

/* ---- branches: backward, far, x0 ---- */
u64 branch_far(u64 a, u64 b);
__asm__(".text\n"
        ".globl branch_far\n"
        "branch_far:\n\t"
        ".option push\n\t.option norvc\n\t"
        "li t0, 0\n\t"
        "beq a0, a1, 1f\n\t" /* forward, near the maximum (+4094) */
        "li t0, 100\n\t"
        "j 3f\n\t"
        "2: addi t0, t0, 2\n\t"
        "j 3f\n\t"
        ".skip 4068\n"
        "1: addi t0, t0, 1\n\t"
        "bne a0, x0, 2b\n" /* backward, far */
        "3: mv a0, t0\n\t"
        "ret\n\t"
        ".option pop\n");

static void test_branches(void)
{
    /* loop with a backward branch */
    u64 n = 0, i = 10;
    __asm__ volatile("1: addi %0, %0, 3\n\t"
                     "addi %1, %1, -1\n\t"
                     "bnez %1, 1b"
                     : "+r"(n), "+r"(i));
    CHECK("backward loop", n, 30);
    CHECK("branch far taken", branch_far(5, 5), 3);
    CHECK("branch far not", branch_far(5, 6), 100);
    CHECK("branch far x0", branch_far(0, 0), 1);
    CHECK("beq x0,x0", BR("beq", 0, 0), 1);
    u64 t;
    __asm__ volatile("li %0, 1\n\tbeq x0, x0, 1f\n\tli %0, 0\n1:" : "=&r"(t));
    CHECK("beq zero,zero", t, 1);
    __asm__ volatile("li %0, 1\n\tbne x0, x0, 1f\n\tli %0, 0\n1:" : "=&r"(t));
    CHECK("bne zero,zero", t, 0);
    __asm__ volatile("li %0, 1\n\tbltu x0, x0, 1f\n\tli %0, 0\n1:" : "=&r"(t));
    CHECK("bltu zero,zero", t, 0);
    __asm__ volatile("li %0, 1\n\tbgeu x0, x0, 1f\n\tli %0, 0\n1:" : "=&r"(t));
    CHECK("bgeu zero,zero", t, 1);
}

/* ---- loads and stores ---- */
static u8 ldbuf[4096] __attribute__((aligned(4096))) = {
    [0] = 0x80,    [1] = 0x7f,    [2] = 0xff,    [3] = 0x01,    [4] = 0x23,    [5] = 0x45,
    [6] = 0x67,    [7] = 0x89,    [8] = 0xab,    [9] = 0xcd,    [10] = 0xef,   [11] = 0x10,
    [12] = 0xfe,   [13] = 0xdc,   [14] = 0xba,   [15] = 0x98,   [2040] = 0x11, [2041] = 0x22,
    [2042] = 0x33, [2043] = 0x44, [2044] = 0x55, [2045] = 0x66, [2046] = 0x77, [2047] = 0x88,
    [4088] = 0x01, [4089] = 0x02, [4090] = 0x03, [4091] = 0x84, [4092] = 0x05, [4093] = 0x06,
    [4094] = 0xf7, [4095] = 0x80,
};

#define LDI(insn, base, off)                                                                   \
    ({                                                                                         \
        u64 _r;                                                                                \
        __asm__ volatile(insn " %0, %2(%1)" : "=r"(_r) : "r"(base), "i"(off) : "memory");     \
        _r;                                                                                    \
    })

static void test_loads(void)
{
    u8 *p = ldbuf;
    CHECK("lb 0", LDI("lb", p, 0), 0xffffffffffffff80ull);
    CHECK("lb 1", LDI("lb", p, 1), 0x7f);
    CHECK("lb 2", LDI("lb", p, 2), ~0ull);
    CHECK("lbu 0", LDI("lbu", p, 0), 0x80);
    CHECK("lbu 2", LDI("lbu", p, 2), 0xff);
    CHECK("lbu 1", LDI("lbu", p, 1), 0x7f);
    CHECK("lh 0", LDI("lh", p, 0), 0x7f80);
    CHECK("lh 2", LDI("lh", p, 2), 0x01ff);
    CHECK("lh 6", LDI("lh", p, 6), 0xffffffffffff8967ull);
    CHECK("lh 8", LDI("lh", p, 8), 0xffffffffffffcdabull);
    CHECK("lhu 8", LDI("lhu", p, 8), 0xcdab);
    CHECK("lhu 14", LDI("lhu", p, 14), 0x98ba);
    CHECK("lh 14", LDI("lh", p, 14), 0xffffffffffff98baull);
    CHECK("lw 0", LDI("lw", p, 0), 0x01ff7f80);
    CHECK("lw 4", LDI("lw", p, 4), 0xffffffff89674523ull);
    CHECK("lwu 4", LDI("lwu", p, 4), 0x89674523);
    CHECK("lw 8", LDI("lw", p, 8), 0x10efcdab);
    CHECK("lwu 8", LDI("lwu", p, 8), 0x10efcdab);
    CHECK("lw 12", LDI("lw", p, 12), 0xffffffff98badcfeull);
    CHECK("lwu 12", LDI("lwu", p, 12), 0x98badcfe);
    CHECK("ld 0", LDI("ld", p, 0), 0x8967452301ff7f80ull);
    CHECK("ld 8", LDI("ld", p, 8), 0x98badcfe10efcdabull);
    /* immediate extremes: base in the middle of the buffer */
    u8 *m = p + 2048;
    CHECK("lb -2048", LDI("lb", m, -2048), 0xffffffffffffff80ull);
    CHECK("lbu 2047", LDI("lbu", m, 2047), 0x80);
    CHECK("lb 2047", LDI("lb", m, 2047), 0xffffffffffffff80ull);
    CHECK("lh 2046", LDI("lh", m, 2046), 0xffffffffffff80f7ull);
    CHECK("lhu 2046", LDI("lhu", m, 2046), 0x80f7);
    CHECK("lw 2044", LDI("lw", m, 2044), 0xffffffff80f70605ull);
    CHECK("lwu 2040", LDI("lwu", m, 2040), 0x84030201);
    CHECK("lw 2040", LDI("lw", m, 2040), 0xffffffff84030201ull);
    CHECK("ld 2040", LDI("ld", m, 2040), 0x80f7060584030201ull);
    CHECK("ld -8", LDI("ld", m, -8), 0x8877665544332211ull);
    CHECK("lw -4", LDI("lw", m, -4), 0xffffffff88776655ull);
    CHECK("lwu -4", LDI("lwu", m, -4), 0x88776655);
    CHECK("lh -2", LDI("lh", m, -2), 0xffffffffffff8877ull);
    CHECK("lbu -1", LDI("lbu", m, -1), 0x88);
    CHECK("ld -2040", LDI("ld", m, -2040), 0x98badcfe10efcdabull);
    /* rd == rs1 */
    u64 r = (u64)p;
    __asm__ volatile("ld %0, 0(%0)" : "+r"(r) : : "memory");
    CHECK("ld rd==rs1", r, 0x8967452301ff7f80ull);
    r = (u64)p + 8;
    __asm__ volatile("lw %0, -4(%0)" : "+r"(r) : : "memory");
    CHECK("lw rd==rs1", r, 0xffffffff89674523ull);
}

static u64 stbuf[8] __attribute__((aligned(64)));

static void fill_st(void)
{
    for (int i = 0; i < 8; i++) ((volatile u64 *)stbuf)[i] = 0xaaaaaaaaaaaaaaaaull;
}

#define STI(insn, val, base, off)                                                              \
    __asm__ volatile(insn " %0, %2(%1)" ::"r"((u64)(val)), "r"(base), "i"(off) : "memory")

static void test_stores(void)
{
    volatile u64 *s = stbuf;
    u8 *b = (u8 *)stbuf;
    u64 v = 0x1122334455667788ull;
    fill_st();
    STI("sb", v, b, 0);
    STI("sb", v, b, 9);
    STI("sb", 0xfedcba9876543281ull, b, 15);
    CHECK("sb 0", s[0], 0xaaaaaaaaaaaaaa88ull);
    CHECK("sb 9/15", s[1], 0x81aaaaaaaaaa88aaull);
    CHECK("sb untouched", s[2], 0xaaaaaaaaaaaaaaaaull);
    fill_st();
    STI("sh", v, b, 0);
    STI("sh", v, b, 10);
    STI("sh", 0xffff, b, 22);
    CHECK("sh 0", s[0], 0xaaaaaaaaaaaa7788ull);
    CHECK("sh 10", s[1], 0xaaaaaaaa7788aaaaull);
    CHECK("sh 22", s[2], 0xffffaaaaaaaaaaaaull);
    CHECK("sh untouched", s[3], 0xaaaaaaaaaaaaaaaaull);
    fill_st();
    STI("sw", v, b, 0);
    STI("sw", 0x80000000ull, b, 12);
    CHECK("sw 0", s[0], 0xaaaaaaaa55667788ull);
    CHECK("sw 12", s[1], 0x80000000aaaaaaaaull);
    CHECK("sw untouched", s[2], 0xaaaaaaaaaaaaaaaaull);
    fill_st();
    STI("sd", v, b, 8);
    STI("sd", ~0ull, b, 24);
    CHECK("sd 8", s[1], v);
    CHECK("sd 24", s[3], ~0ull);
    CHECK("sd untouched 0", s[0], 0xaaaaaaaaaaaaaaaaull);
    CHECK("sd untouched 16", s[2], 0xaaaaaaaaaaaaaaaaull);
    /* negative / positive immediate extremes */
    fill_st();
    u8 *hi = (u8 *)((uintptr_t)b + 2048 + 32);
    STI("sd", 0x0102030405060708ull, hi, -2048);
    STI("sb", 0x5aull, hi, -2039);
    CHECK("sd -2048", s[4], 0x0102030405060708ull);
    CHECK("sb -2039", s[5], 0xaaaaaaaaaaaa5aaaull);
    fill_st();
    u8 *lo2 = (u8 *)((uintptr_t)b + 40 - 2040);
    STI("sd", 0x1111222233334444ull, lo2, 2040);
    STI("sw", 0x55556666ull, lo2, 2036);
    STI("sh", 0x7777ull, lo2, 2034);
    STI("sb", 0x99ull, lo2, 2033);
    CHECK("sd 2040", s[5], 0x1111222233334444ull);
    CHECK("sw/sh/sb high imm", s[4], 0x55556666777799aaull);
    /* store then load back through different widths, rs1 == rs2 */
    fill_st();
    u64 a = (u64)&stbuf[6];
    __asm__ volatile("sd %0, 0(%0)" ::"r"(a) : "memory");
    CHECK("sd rs1==rs2", s[6], a);
    /* store of x0 */
    __asm__ volatile("sw x0, 4(%0)" ::"r"(&stbuf[6]) : "memory");
    CHECK("sw x0", s[6], a & 0xffffffffull);
}

/* ---- x0 ---- */
static void test_x0(void)
{
    u64 r1, r2, r3;
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "li t0, 123\n\t"
                     "li t1, 456\n\t"
                     "add x0, t0, t1\n\t"
                     "mv %0, x0\n\t"
                     "addi x0, x0, 5\n\t"
                     "add %1, x0, x0\n\t"
                     "lui x0, 0x12345\n\t"
                     "auipc x0, 1\n\t"
                     "xori x0, x0, -1\n\t"
                     "slli x0, t0, 3\n\t"
                     "addw x0, t0, t1\n\t"
                     "ori %2, x0, 0\n\t"
                     ".option pop"
                     : "=&r"(r1), "=&r"(r2), "=&r"(r3)
                     :
                     : "t0", "t1");
    CHECK("x0 add", r1, 0);
    CHECK("x0 addi", r2, 0);
    CHECK("x0 misc", r3, 0);
    /* loads into x0 are performed (and discarded) */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "ld x0, 0(%1)\n\t"
                     "lw x0, 0(%1)\n\t"
                     "lbu x0, 0(%1)\n\t"
                     "mv %0, x0\n\t"
                     ".option pop"
                     : "=r"(r1)
                     : "r"(ldbuf)
                     : "memory");
    CHECK("x0 load", r1, 0);
    /* jal/jalr with rd = x0 */
    __asm__ volatile("jal x0, 1f\n\t"
                     "1: lla t0, 2f\n\t"
                     "jalr x0, 0(t0)\n\t"
                     "2: mv %0, zero"
                     : "=r"(r1)
                     :
                     : "t0");
    CHECK("x0 jal", r1, 0);
    /* a load to x0 still faults */
    TRAP_EXPECT();
    __asm__ volatile("lw x0, 0(%0)" ::"r"(0x18000000ul) : "memory");
    TRAP_END();
    CHECK("lw x0 fault count", trap.count, 1);
    CHECK("lw x0 fault cause", trap.cause, CAUSE_LOAD_ACCESS);
    CHECK("lw x0 fault tval", trap.tval, 0x18000000ul);
}

/* ---- FENCE / FENCE.I ---- */
extern char smc_tmpl[], smc_tmpl_end[], smc_add1[], smc_add2[], smc_add100[];
extern char smc2_tmpl[], smc2_tmpl_end[], smc2_slot[];
__asm__(".text\n"
        ".option push\n\t.option norvc\n"
        /* u64 f(u64 a0): returns a0 + 1 (the addi is patched) */
        "smc_tmpl:\n\t"
        "addi a0, a0, 1\n\t"
        "ret\n"
        "smc_tmpl_end:\n"
        "smc_add1: addi a0, a0, 1\n"
        "smc_add2: addi a0, a0, 2\n"
        "smc_add100: addi a0, a0, 100\n"
        /* u64 f(u64 a0, u32 new_insn a1, void *self a2): patches its own
         * slot instruction, executes fence.i, then runs the slot */
        "smc2_tmpl:\n\t"
        "sw a1, 8(a2)\n\t" /* smc2_slot is at offset 8 */
        "fence.i\n"
        "smc2_slot:\n\t"
        "addi a0, a0, 1\n\t"
        "ret\n"
        "smc2_tmpl_end:\n"
        ".option pop\n");

static u32 smc_buf[64] __attribute__((aligned(64)));

static void test_fence(void)
{
    /* all FENCE forms execute as no-ops for a single hart */
    __asm__ volatile("fence\n\t"
                     "fence rw, rw\n\t"
                     "fence iorw, iorw\n\t"
                     "fence r, w\n\t"
                     "fence w, r\n\t"
                     "fence.tso\n\t"
                     ".word 0x0100000f\n\t" /* pause (fence w, 0) */
                     "fence.i" ::
                         : "memory");
    CHECK("fence", 1, 1);

    u64 (*fn)(u64) = (u64(*)(u64))(void *)smc_buf;
    memcpy(smc_buf, smc_tmpl, (size_t)(smc_tmpl_end - smc_tmpl));
    fence_i();
    CHECK("smc initial", fn(10), 11);
    CHECK("smc initial again", fn(20), 21);
    memcpy(smc_buf, smc_add2, 4);
    fence_i();
    CHECK("smc after fence.i", fn(10), 12);
    memcpy(smc_buf, smc_add100, 4);
    fence_i();
    CHECK("smc after 2nd fence.i", fn(10), 110);

    /* code patching the instruction right after its own fence.i */
    u32 *b2 = smc_buf + 16;
    u64 (*fn2)(u64, u64, void *) = (u64(*)(u64, u64, void *))(void *)b2;
    memcpy(b2, smc2_tmpl, (size_t)(smc2_tmpl_end - smc2_tmpl));
    fence_i();
    u32 add2, add100;
    memcpy(&add2, smc_add2, 4);
    memcpy(&add100, smc_add100, 4);
    CHECK("smc2 first", fn2(1, add2, b2), 3);
    CHECK("smc2 second", fn2(1, add100, b2), 101);
    CHECK("smc2 third", fn2(7, add2, b2), 9);
}

/* ---- ECALL / EBREAK / illegal encodings ---- */
#define EXPECT_ILLEGAL(name, word)                                                             \
    do {                                                                                       \
        u64 _pc;                                                                               \
        TRAP_EXPECT();                                                                         \
        __asm__ volatile("lla %0, 1f\n1: .word " #word : "=r"(_pc)::"memory");                \
        TRAP_END();                                                                            \
        CHECK(name " count", trap.count, 1);                                                   \
        CHECK(name " cause", trap.cause, CAUSE_ILLEGAL_INSN);                                  \
        CHECK(name " epc", trap.epc, _pc);                                                     \
        CHECK(name " tval", trap.tval, (u64)(word));                                           \
    } while (0)

static void test_system(void)
{
    u64 pc;
    TRAP_EXPECT();
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "lla %0, 1f\n1: ebreak\n\t.option pop"
                     : "=r"(pc)::"memory");
    TRAP_END();
    CHECK("ebreak count", trap.count, 1);
    CHECK("ebreak cause", trap.cause, CAUSE_BREAKPOINT);
    CHECK("ebreak epc", trap.epc, pc);
    CHECKT("ebreak tval pc or 0", trap.tval == pc || trap.tval == 0);

    TRAP_EXPECT();
    __asm__ volatile("li a7, 0\n\tlla %0, 1f\n1: ecall" : "=r"(pc)::"a7", "memory");
    TRAP_END();
    CHECK("ecall count", trap.count, 1);
    CHECK("ecall cause", trap.cause, CAUSE_ECALL_M);
    CHECK("ecall epc", trap.epc, pc);
    CHECK("ecall tval", trap.tval, 0);

    EXPECT_ILLEGAL("all ones", 0xffffffff);
    EXPECT_ILLEGAL("load f3=7", 0x00007003);      /* ldu: RV128 only */
    EXPECT_ILLEGAL("store f3=4", 0x00004023);     /* sq: RV128 only */
    EXPECT_ILLEGAL("jalr f3=1", 0x00009067);
    EXPECT_ILLEGAL("branch f3=2", 0x00002063);
    EXPECT_ILLEGAL("branch f3=3", 0x00003063);
    EXPECT_ILLEGAL("slli imm[11:6]=0x20", 0x80009093); /* slli with bad funct6 */
    EXPECT_ILLEGAL("srai funct6=0x30", 0xc000d093);
    EXPECT_ILLEGAL("slliw shamt[5]", 0x0200909b);
    EXPECT_ILLEGAL("srliw shamt[5]", 0x0200d09b);
    EXPECT_ILLEGAL("sraiw shamt[5]", 0x4200d09b);
    EXPECT_ILLEGAL("add funct7=0x40", 0x800080b3);
    EXPECT_ILLEGAL("sub funct3=1", 0x400090b3);
    EXPECT_ILLEGAL("addw funct3=2", 0x0000a0bb);
    EXPECT_ILLEGAL("subw funct3=1", 0x400090bb);
    EXPECT_ILLEGAL("addiw funct3=2", 0x0000a09b);
    EXPECT_ILLEGAL("op-imm-32 f3=3", 0x0000b09b);
    EXPECT_ILLEGAL("misc-mem f3=5", 0x0000500f);
    EXPECT_ILLEGAL("opcode 0x77", 0x00000077);   /* OP-V with no V: reserved here */
    EXPECT_ILLEGAL("opcode 0x6b", 0x0000006b);   /* reserved */
    EXPECT_ILLEGAL("48-bit prefix", 0x0000001f); /* longer encodings: none supported */
    EXPECT_ILLEGAL("64-bit prefix", 0x0000003f);
}

int main(void)
{
    test_name = "rv64i";
    test_rr();
    test_imm();
    test_lui_auipc();
    test_jumps();
    test_branches();
    test_loads();
    test_stores();
    test_x0();
    test_fence();
    test_system();
    return 0;
}
