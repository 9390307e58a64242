/*
 * RV64C: every compressed instruction (unprivileged spec chapter 16) with
 * immediate edge values, HINT encodings (must execute as no-ops), reserved
 * encodings (illegal instruction, mtval = the 16-bit encoding), a 32-bit
 * instruction straddling a 4 KiB page boundary, and code/jump targets at
 * 2-byte alignment.
 *
 * Instructions are written with explicit c.* mnemonics inside
 * ".option rvc", so the assembler either emits the 16-bit form or fails;
 * reserved and HINT encodings are emitted with .2byte.
 */
#include "common.h"

#define RVC_BEGIN ".option push\n\t.option rvc\n\t"
#define RVC_END "\n\t.option pop"

/* a0 = v; insn (operating on a0); return a0 */
#define C1(insn, v)                                                                            \
    ({                                                                                         \
        register u64 _a __asm__("a0") = (u64)(v);                                              \
        __asm__ volatile(RVC_BEGIN insn RVC_END : "+r"(_a));                                   \
        _a;                                                                                    \
    })
/* a0 = v, a1 = w; insn; return a0 */
#define C2(insn, v, w)                                                                         \
    ({                                                                                         \
        register u64 _a __asm__("a0") = (u64)(v);                                              \
        register u64 _b __asm__("a1") = (u64)(w);                                              \
        __asm__ volatile(RVC_BEGIN insn RVC_END : "+r"(_a) : "r"(_b));                         \
        _a;                                                                                    \
    })

#define SX32C(v) ((u64)(i64)(i32)(u32)(v))

/* ---------------- Q1 / Q2 arithmetic ---------------- */
static void test_alu(void)
{
    /* C.ADDI: nzimm -32..31, any rd */
    CHECK("c.addi 31", C1("c.addi a0, 31", 100), 131);
    CHECK("c.addi -32", C1("c.addi a0, -32", 100), 68);
    CHECK("c.addi 1", C1("c.addi a0, 1", ~0ull), 0);
    CHECK("c.addi -1", C1("c.addi a0, -1", 0), ~0ull);
    CHECK("c.addi 64-bit", C1("c.addi a0, 1", 0xffffffffull), 0x100000000ull);
    {
        register u64 t __asm__("t1") = 5;
        __asm__ volatile(RVC_BEGIN "c.addi t1, -6" RVC_END : "+r"(t));
        CHECK("c.addi t1", t, ~0ull);
    }
    /* C.ADDIW: imm -32..31, result sign-extended from 32 bits */
    CHECK("c.addiw 0 (sext.w)", C1("c.addiw a0, 0", 0x12345678deadbeefull), 0xffffffffdeadbeefull);
    CHECK("c.addiw ovf", C1("c.addiw a0, 1", 0x7fffffff), 0xffffffff80000000ull);
    CHECK("c.addiw -32", C1("c.addiw a0, -32", 0x100000010ull), 0xfffffffffffffff0ull);
    CHECK("c.addiw 31", C1("c.addiw a0, 31", 0xffffffff00000001ull), 32);
    {
        register u64 t __asm__("s11") = 0x80000000ull;
        __asm__ volatile(RVC_BEGIN "c.addiw s11, -1" RVC_END : "+r"(t));
        CHECK("c.addiw s11", t, 0x7fffffff);
    }
    /* C.LI */
    CHECK("c.li -32", C1("c.li a0, -32", 7), 0xffffffffffffffe0ull);
    CHECK("c.li 31", C1("c.li a0, 31", 7), 31);
    CHECK("c.li 0", C1("c.li a0, 0", 7), 0);
    {
        register u64 t __asm__("t2") = 1;
        __asm__ volatile(RVC_BEGIN "c.li t2, -1" RVC_END : "+r"(t));
        CHECK("c.li t2", t, ~0ull);
    }
    /* C.LUI: nzimm[17:12] sign-extended */
    CHECK("c.lui 1", C1("c.lui a0, 1", 7), 0x1000);
    CHECK("c.lui 31", C1("c.lui a0, 31", 7), 0x1f000);
    CHECK("c.lui -32", C1("c.lui a0, 0xfffe0", 7), 0xfffffffffffe0000ull);
    CHECK("c.lui -1", C1("c.lui a0, 0xfffff", 7), 0xfffffffffffff000ull);
    {
        register u64 t __asm__("t3") = 1;
        __asm__ volatile(RVC_BEGIN "c.lui t3, 0x10" RVC_END : "+r"(t));
        CHECK("c.lui t3", t, 0x10000);
    }
    /* C.SRLI / C.SRAI / C.ANDI (rd' only), shamt 1..63 */
    CHECK("c.srli 1", C1("c.srli a0, 1", 0x8000000000000001ull), 0x4000000000000000ull);
    CHECK("c.srli 63", C1("c.srli a0, 63", 0x8000000000000000ull), 1);
    CHECK("c.srli 32", C1("c.srli a0, 32", 0xfedcba9876543210ull), 0xfedcba98);
    CHECK("c.srli 31", C1("c.srli a0, 31", 0xfedcba9876543210ull), 0x1fdb97530);
    CHECK("c.srai 1", C1("c.srai a0, 1", 0x8000000000000001ull), 0xc000000000000000ull);
    CHECK("c.srai 63", C1("c.srai a0, 63", 0x8000000000000000ull), ~0ull);
    CHECK("c.srai 32", C1("c.srai a0, 32", 0xfedcba9876543210ull), 0xfffffffffedcba98ull);
    CHECK("c.srai pos", C1("c.srai a0, 33", 0x7edcba9876543210ull), 0x3f6e5d4c);
    CHECK("c.andi -32", C1("c.andi a0, -32", ~0ull), 0xffffffffffffffe0ull);
    CHECK("c.andi 31", C1("c.andi a0, 31", ~0ull), 31);
    CHECK("c.andi 0", C1("c.andi a0, 0", ~0ull), 0);
    CHECK("c.andi -1", C1("c.andi a0, -1", 0x123456789ull), 0x123456789ull);
    {
        register u64 t __asm__("s0") = 0xffffull;
        __asm__ volatile(RVC_BEGIN "c.andi s0, 0x15\n\tc.srli s0, 2\n\tc.srai s0, 1" RVC_END
                         : "+r"(t));
        CHECK("c.andi/srli/srai s0", t, 2);
    }
    /* C.SLLI: any rd, shamt 1..63 */
    CHECK("c.slli 1", C1("c.slli a0, 1", 0xc000000000000001ull), 0x8000000000000002ull);
    CHECK("c.slli 63", C1("c.slli a0, 63", 3), 0x8000000000000000ull);
    CHECK("c.slli 32", C1("c.slli a0, 32", 0x12345678abcdull), 0x5678abcd00000000ull);
    {
        register u64 t __asm__("t6") = 1;
        __asm__ volatile(RVC_BEGIN "c.slli t6, 40" RVC_END : "+r"(t));
        CHECK("c.slli t6", t, 1ull << 40);
    }
    /* CA format: rd' = rd' op rs2' */
    CHECK("c.sub", C2("c.sub a0, a1", 5, 7), (u64)-2);
    CHECK("c.sub min", C2("c.sub a0, a1", 0, 0x8000000000000000ull), 0x8000000000000000ull);
    CHECK("c.xor", C2("c.xor a0, a1", 0xff00ff00ff00ff00ull, 0x0ff00ff00ff00ff0ull),
          0xf0f0f0f0f0f0f0f0ull);
    CHECK("c.or", C2("c.or a0, a1", 0xff00000000000000ull, 0x1ull), 0xff00000000000001ull);
    CHECK("c.and", C2("c.and a0, a1", 0xff000000000000f0ull, 0xf0000000000000ffull),
          0xf0000000000000f0ull);
    CHECK("c.subw", C2("c.subw a0, a1", 0x80000000ull, 1), 0x7fffffff);
    CHECK("c.subw sext", C2("c.subw a0, a1", 0, 1), ~0ull);
    CHECK("c.subw hi", C2("c.subw a0, a1", 0x1234567800000005ull, 0xabcdef0000000006ull), ~0ull);
    CHECK("c.addw ovf", C2("c.addw a0, a1", 0x7fffffff, 1), 0xffffffff80000000ull);
    CHECK("c.addw hi", C2("c.addw a0, a1", 0xffffffff00000001ull, 0x00000001ffffffffull), 0);
    {
        register u64 x __asm__("s1") = 10;
        register u64 y __asm__("a5") = 3;
        __asm__ volatile(RVC_BEGIN "c.sub s1, a5\n\tc.addw s1, a5\n\tc.subw a5, s1" RVC_END
                         : "+r"(x), "+r"(y));
        CHECK("c.sub s1,a5", x, 10);
        CHECK("c.subw a5,s1", y, (u64)-7);
    }
    /* CR format: C.MV / C.ADD, any registers */
    CHECK("c.mv", C2("c.mv a0, a1", 1, 0xdeadbeefcafef00dull), 0xdeadbeefcafef00dull);
    CHECK("c.add", C2("c.add a0, a1", 0xffffffffffffffffull, 2), 1);
    CHECK("c.add 64", C2("c.add a0, a1", 0x7fffffffull, 1), 0x80000000ull);
    {
        register u64 x __asm__("t5") = 0x1111;
        register u64 y __asm__("s2") = 0x2222;
        __asm__ volatile(RVC_BEGIN "c.add t5, s2\n\tc.mv s2, t5\n\tc.add s2, s2" RVC_END
                         : "+r"(x), "+r"(y));
        CHECK("c.add t5,s2", x, 0x3333);
        CHECK("c.add s2,s2", y, 0x6666);
    }
    /* C.NOP */
    CHECK("c.nop", C1("c.nop\n\tc.nop", 42), 42);
}

/* ---------------- stack pointer forms ---------------- */
static u64 spbuf[128] __attribute__((aligned(64)));
static u64 spbuf2[128] __attribute__((aligned(64)));

static void test_sp(void)
{
    u64 sp0, r;
    /* C.ADDI4SPN: rd' = sp + nzuimm (4..1020, multiple of 4) */
    {
        register u64 a __asm__("a0");
        register u64 b __asm__("s0");
        register u64 c __asm__("a5");
        __asm__ volatile(RVC_BEGIN "c.addi4spn a0, sp, 4\n\t"
                                   "c.addi4spn s0, sp, 1020\n\t"
                                   "c.addi4spn a5, sp, 512\n\t"
                                   "mv %3, sp" RVC_END
                         : "=r"(a), "=r"(b), "=r"(c), "=r"(sp0));
        CHECK("c.addi4spn 4", a - sp0, 4);
        CHECK("c.addi4spn 1020", b - sp0, 1020);
        CHECK("c.addi4spn 512", c - sp0, 512);
    }
    /* C.ADDI16SP: sp += nzimm (-512..496, multiple of 16) */
    {
        u64 d1, d2, d3, d4;
        __asm__ volatile(RVC_BEGIN "mv t0, sp\n\t"
                                   "c.addi16sp sp, -512\n\t"
                                   "sub %0, sp, t0\n\t"
                                   "c.addi16sp sp, 496\n\t"
                                   "sub %1, sp, t0\n\t"
                                   "c.addi16sp sp, 16\n\t"
                                   "sub %2, sp, t0\n\t"
                                   "c.addi16sp sp, -16\n\t"
                                   "c.addi16sp sp, 32\n\t"
                                   "c.addi16sp sp, -32\n\t"
                                   "c.addi16sp sp, 16\n\t"
                                   "sub %3, sp, t0\n\t"
                                   "mv sp, t0" RVC_END
                         : "=&r"(d1), "=&r"(d2), "=&r"(d3), "=&r"(d4)
                         :
                         : "t0", "memory");
        CHECK("c.addi16sp -512", d1, (u64)-512);
        CHECK("c.addi16sp +496", d2, (u64)-16);
        CHECK("c.addi16sp +16", d3, 0);
        CHECK("c.addi16sp mixed", d4, 0);
    }
    /* SP-relative loads/stores on a scratch "stack" */
    for (int i = 0; i < 128; i++) spbuf[i] = 0x0101010101010101ull * (u64)(i + 1) ^ 0x8000000080000000ull;
    for (int i = 0; i < 128; i++) spbuf2[i] = 0;
    volatile u64 *s = spbuf, *s2 = spbuf2;
    u32 *w = (u32 *)spbuf;
    u64 l1, l2, l3, l4, l5, l6;
    __asm__ volatile(RVC_BEGIN "mv t0, sp\n\t"
                               "mv sp, %6\n\t"
                               "c.lwsp %0, 252(sp)\n\t"
                               "c.lwsp %1, 0(sp)\n\t"
                               "c.ldsp %2, 504(sp)\n\t"
                               "c.ldsp %3, 0(sp)\n\t"
                               "c.lwsp %4, 4(sp)\n\t"
                               "c.ldsp %5, 8(sp)\n\t"
                               "mv sp, t0" RVC_END
                     : "=&r"(l1), "=&r"(l2), "=&r"(l3), "=&r"(l4), "=&r"(l5), "=&r"(l6)
                     : "r"(spbuf)
                     : "t0", "memory");
    CHECK("c.lwsp 252", l1, SX32C(w[63]));
    CHECK("c.lwsp 0", l2, SX32C(w[0]));
    CHECK("c.ldsp 504", l3, s[63]);
    CHECK("c.ldsp 0", l4, s[0]);
    CHECK("c.lwsp 4 sext", l5, SX32C(w[1]));
    CHECK("c.lwsp sext neg", SX32C(w[1]) >> 63, 1);
    CHECK("c.ldsp 8", l6, s[1]);
    {
        register u64 t __asm__("t4");
        __asm__ volatile(RVC_BEGIN "mv t0, sp\n\tmv sp, %1\n\tc.lwsp t4, 128(sp)\n\tmv sp, t0" RVC_END
                         : "=r"(t)
                         : "r"(spbuf)
                         : "t0", "memory");
        CHECK("c.lwsp t4", t, SX32C(w[32]));
    }
    __asm__ volatile(RVC_BEGIN "mv t0, sp\n\t"
                               "mv sp, %0\n\t"
                               "c.sdsp %1, 504(sp)\n\t"
                               "c.sdsp %1, 0(sp)\n\t"
                               "c.swsp %2, 252(sp)\n\t"
                               "c.swsp %2, 16(sp)\n\t"
                               "c.sdsp %2, 32(sp)\n\t"
                               "mv sp, t0" RVC_END
                     :
                     : "r"(spbuf2), "r"(0x1122334455667788ull), "r"(0xcafebabe87654321ull)
                     : "t0", "memory");
    CHECK("c.sdsp 504", s2[63], 0x1122334455667788ull);
    CHECK("c.sdsp 0", s2[0], 0x1122334455667788ull);
    CHECK("c.swsp 252", s2[31], 0x8765432100000000ull);
    CHECK("c.swsp 16", s2[2], 0x87654321ull);
    CHECK("c.sdsp 32", s2[4], 0xcafebabe87654321ull);
    CHECK("c.s*sp untouched", s2[1] | s2[3] | s2[30] | s2[62], 0);

    /* C.FLDSP / C.FSDSP: any f register */
    for (int i = 0; i < 128; i++) spbuf2[i] = 0;
    __asm__ volatile(RVC_BEGIN "mv t0, sp\n\t"
                               "mv sp, %0\n\t"
                               "c.fldsp ft0, 504(sp)\n\t"
                               "c.fldsp fa0, 0(sp)\n\t"
                               "c.fldsp ft11, 256(sp)\n\t"
                               "mv sp, %1\n\t"
                               "c.fsdsp ft0, 0(sp)\n\t"
                               "c.fsdsp fa0, 504(sp)\n\t"
                               "c.fsdsp ft11, 8(sp)\n\t"
                               "mv sp, t0" RVC_END
                     :
                     : "r"(spbuf), "r"(spbuf2)
                     : "t0", "ft0", "fa0", "ft11", "memory");
    CHECK("c.fldsp 504/c.fsdsp 0", s2[0], s[63]);
    CHECK("c.fldsp 0/c.fsdsp 504", s2[63], s[0]);
    CHECK("c.fldsp 256/c.fsdsp 8", s2[1], s[32]);

    /* CL/CS formats: C.LW / C.LD / C.SW / C.SD / C.FLD / C.FSD */
    {
        register u64 base __asm__("a1") = (u64)spbuf;
        register u64 base2 __asm__("s1") = (u64)spbuf2;
        register u64 a __asm__("a0");
        register u64 b __asm__("a2");
        register u64 c __asm__("a3");
        register u64 d __asm__("a4");
        __asm__ volatile(RVC_BEGIN "c.lw a0, 124(a1)\n\t"
                                   "c.lw a2, 0(a1)\n\t"
                                   "c.ld a3, 248(a1)\n\t"
                                   "c.ld a4, 0(a1)" RVC_END
                         : "=r"(a), "=r"(b), "=r"(c), "=r"(d)
                         : "r"(base)
                         : "memory");
        CHECK("c.lw 124", a, SX32C(w[31]));
        CHECK("c.lw 0", b, SX32C(w[0]));
        CHECK("c.ld 248", c, s[31]);
        CHECK("c.ld 0", d, s[0]);
        __asm__ volatile(RVC_BEGIN "c.lw a0, 4(a1)\n\tc.lw a2, 64(a1)" RVC_END
                         : "=r"(a), "=r"(b)
                         : "r"(base)
                         : "memory");
        CHECK("c.lw 4", a, SX32C(w[1]));
        CHECK("c.lw 64", b, SX32C(w[16]));
        for (int i = 0; i < 128; i++) spbuf2[i] = 0;
        a = 0xaaaaaaaa11111111ull;
        b = 0x2222222233333333ull;
        __asm__ volatile(RVC_BEGIN "c.sw a0, 124(s1)\n\t"
                                   "c.sw a0, 0(s1)\n\t"
                                   "c.sd a2, 248(s1)\n\t"
                                   "c.sd a2, 8(s1)\n\t"
                                   "c.sw a2, 20(s1)" RVC_END
                         :
                         : "r"(a), "r"(b), "r"(base2)
                         : "memory");
        CHECK("c.sw 124", s2[15], 0x1111111100000000ull);
        CHECK("c.sw 0", s2[0], 0x11111111ull);
        CHECK("c.sd 248", s2[31], 0x2222222233333333ull);
        CHECK("c.sd 8", s2[1], 0x2222222233333333ull);
        CHECK("c.sw 20", s2[2], 0x3333333300000000ull);
        CHECK("c.s* untouched", s2[3] | s2[14] | s2[16] | s2[30], 0);
        for (int i = 0; i < 128; i++) spbuf2[i] = 0;
        __asm__ volatile(RVC_BEGIN "c.fld fa5, 248(a1)\n\t"
                                   "c.fld fs0, 0(a1)\n\t"
                                   "c.fld fs1, 128(a1)\n\t"
                                   "c.fsd fa5, 0(s1)\n\t"
                                   "c.fsd fs0, 248(s1)\n\t"
                                   "c.fsd fs1, 16(s1)" RVC_END
                         :
                         : "r"(base), "r"(base2)
                         : "fa5", "fs0", "fs1", "memory");
        CHECK("c.fld 248/c.fsd 0", s2[0], s[31]);
        CHECK("c.fld 0/c.fsd 248", s2[31], s[0]);
        CHECK("c.fld 128/c.fsd 16", s2[2], s[16]);
    }
    (void)r;
}

/* ---------------- control transfer ---------------- */
u64 cj_test(void);
u64 bz_fwd(u64), bz_bwd(u64), bnz_fwd(u64), bnz_bwd(u64);
u64 at2_func(u64);
u64 at2_wide(u64);
extern char at2_func_lbl[];
extern char cj_fwd_src[], cj_fwd_tgt[], cj_bwd_src[], cj_bwd_tgt[];
extern char bz_fs[], bz_ft[], bz_bs[], bz_bt[], bnz_fs[], bnz_ft[], bnz_bs[], bnz_bt[];
__asm__(".text\n\t"
        ".option push\n\t"
        ".option rvc\n\t"
        ".option norelax\n\t"
        /* C.J +2046 and -2048; returns 1 + 2 = 3 */
        ".balign 4\n"
        ".globl cj_test, cj_fwd_src, cj_fwd_tgt, cj_bwd_src, cj_bwd_tgt\n"
        "cj_test:\n\t"
        "c.li a0, 0\n"
        "cj_fwd_src:\n\t"
        "c.j cj_fwd_tgt\n\t"
        "c.li a0, 9\n\t"
        ".skip 2042\n"
        "cj_fwd_tgt:\n\t"
        "c.addi a0, 1\n\t"
        "jal x0, cj_bwd_src\n"
        "cj_bwd_tgt:\n\t"
        "c.addi a0, 2\n\t"
        "c.jr ra\n\t"
        ".skip 2044\n"
        "cj_bwd_src:\n\t"
        "c.j cj_bwd_tgt\n\t"
        "c.li a0, 9\n\t"
        "c.jr ra\n\t"
        /* C.BEQZ / C.BNEZ at +254 and -256: return 1 when taken */
        ".macro BRT name, insn, fwdenc\n"
        ".globl \\name\\()_fs, \\name\\()_ft, \\name\\()_bs, \\name\\()_bt\n"
        "\\name\\()_fwd:\n\t"
        "c.mv a1, a0\n\t"
        "c.li a0, 0\n"
        "\\name\\()_fs:\n\t"
        ".2byte \\fwdenc\n\t" /* GAS widens c.b*z at +254: emit it by hand */
        "c.jr ra\n\t"
        ".skip 250\n"
        "\\name\\()_ft:\n\t"
        "c.li a0, 1\n\t"
        "c.jr ra\n\t"
        "\\name\\()_bwd:\n\t"
        "c.mv a1, a0\n\t"
        "c.li a0, 0\n\t"
        "c.j \\name\\()_bs\n"
        "\\name\\()_bt:\n\t"
        "c.li a0, 1\n\t"
        "c.jr ra\n\t"
        ".skip 252\n"
        "\\name\\()_bs:\n\t"
        "\\insn a1, \\name\\()_bt\n\t"
        "c.jr ra\n\t"
        ".endm\n\t"
        ".globl bz_fwd, bz_bwd, bnz_fwd, bnz_bwd\n\t"
        "BRT bz, c.beqz, 0xcdfd\n\t" /* c.beqz a1, +254 */
        "BRT bnz, c.bnez, 0xedfd\n\t" /* c.bnez a1, +254 */
        /* a function starting at a 2 (mod 4) address, with a 32-bit
         * instruction at 2 (mod 4) inside it */
        ".balign 4\n\t"
        "c.nop\n"
        ".globl at2_func, at2_func_lbl\n"
        "at2_func:\n"
        "at2_func_lbl:\n\t"
        "c.addi a0, 1\n\t"
        "c.nop\n\t"
        ".option push\n\t.option norvc\n\t"
        "addi a0, a0, 16\n\t" /* at 2 (mod 4) */
        "addi a0, a0, 32\n\t"
        ".option pop\n\t"
        "c.jr ra\n\t"
        ".balign 4\n\t"
        "c.nop\n"
        ".globl at2_wide\n"
        "at2_wide:\n\t"
        ".option push\n\t.option norvc\n\t"
        "addi a0, a0, 3\n\t"
        "jal x0, 1f\n\t" /* jal to a 2 (mod 4) target */
        "addi a0, a0, 100\n\t"
        ".option pop\n\t"
        "1: c.addi a0, 4\n\t" /* at 2 (mod 4) */
        "c.bnez a0, 2f\n\t"
        "c.addi a0, 30\n\t"
        "c.nop\n"
        "2: c.addi a0, 8\n\t" /* at 2 (mod 4) */
        ".option push\n\t.option norvc\n\t"
        "bne a0, zero, 3f\n\t"
        "addi a0, a0, 100\n\t"
        ".option pop\n\t"
        "c.nop\n"
        "3: c.jr ra\n\t" /* at 2 (mod 4) */
        ".option pop\n");

static void test_control(void)
{
    /* layout of the branch tests (offsets at the encodable extremes) */
    CHECK("c.j fwd offset", (u64)(cj_fwd_tgt - cj_fwd_src), 2046);
    CHECK("c.j bwd offset", (u64)(cj_bwd_src - cj_bwd_tgt), 2048);
    CHECK("c.beqz fwd offset", (u64)(bz_ft - bz_fs), 254);
    CHECK("c.beqz bwd offset", (u64)(bz_bs - bz_bt), 256);
    CHECK("c.bnez fwd offset", (u64)(bnz_ft - bnz_fs), 254);
    CHECK("c.bnez bwd offset", (u64)(bnz_bs - bnz_bt), 256);
    CHECK("c.j +2046/-2048", cj_test(), 3);
    CHECK("c.beqz +254 taken", bz_fwd(0), 1);
    CHECK("c.beqz +254 not", bz_fwd(5), 0);
    CHECK("c.beqz -256 taken", bz_bwd(0), 1);
    CHECK("c.beqz -256 not", bz_bwd(0x100000000ull), 0);
    CHECK("c.bnez +254 taken", bnz_fwd(0x8000000000000000ull), 1);
    CHECK("c.bnez +254 not", bnz_fwd(0), 0);
    CHECK("c.bnez -256 taken", bnz_bwd(1), 1);
    CHECK("c.bnez -256 not", bnz_bwd(0), 0);

    /* 2-byte aligned code and targets */
    CHECK("at2 addr", (u64)at2_func_lbl & 3, 2);
    CHECK("at2 call", at2_func(100), 149);
    CHECK("at2 wide", at2_wide(0), 15);
    /* jalr to an odd address rounds down to the 2 (mod 4) entry */
    {
        u64 (*fp)(u64) = (u64(*)(u64))(void *)((u64)at2_func_lbl + 1);
        CHECK("jalr odd to at2", fp(0), 49);
    }

    /* C.JR / C.JALR: target in any register, link = pc + 2 */
    u64 link, exp, got;
    __asm__ volatile(RVC_BEGIN "li %2, 0\n\t"
                               "lla t0, 1f\n\t"
                               "c.jr t0\n\t"
                               "li %2, 99\n"
                               "1: addi %2, %2, 1\n\t"
                               "lla t0, 2f\n\t"
                               "c.jalr t0\n"
                               "3: li %2, 98\n"
                               "2: mv %0, ra\n\t"
                               "lla %1, 3b" RVC_END
                     : "=&r"(link), "=&r"(exp), "=&r"(got)
                     :
                     : "t0", "ra", "memory");
    CHECK("c.jr", got, 1);
    CHECK("c.jalr link = pc+2", link, exp);
    /* c.jalr ra: target from the old ra */
    __asm__ volatile(RVC_BEGIN "lla ra, 1f\n\t"
                               "c.jalr ra\n"
                               "2: j 3f\n"
                               "1: mv %0, ra\n\t"
                               "lla %1, 2b\n"
                               "3:" RVC_END
                     : "=&r"(link), "=&r"(exp)
                     :
                     : "ra", "memory");
    CHECK("c.jalr ra", link, exp);
    /* c.jr to an odd register value: bit 0 is cleared */
    __asm__ volatile(RVC_BEGIN "li %0, 0\n\t"
                               "lla t0, 1f\n\t"
                               "addi t0, t0, 1\n\t"
                               "c.jr t0\n\t"
                               "li %0, 99\n"
                               "1: addi %0, %0, 7" RVC_END
                     : "=&r"(got)
                     :
                     : "t0");
    CHECK("c.jr odd", got, 7);
}

/* ---------------- straddling a page boundary ---------------- */
u64 strad_addi(u64), strad_sled(u64), strad_auipc(void), strad_jal(void), strad_lw(void *);
u64 strad_beq(u64), strad_nx(u64);
extern char strad_addi_at[], strad_auipc_at[], strad_jal_at[], strad_jal_link[];
__asm__(".section .text.straddle, \"ax\", @progbits\n\t"
        ".option push\n\t"
        ".option rvc\n\t"
        ".option norelax\n\t"
        ".balign 4096\n"
        ".globl strad_sled\n"
        "strad_sled:\n\t"
        ".fill 0x7ff, 2, 0x0001\n" /* 2047 c.nop */
        ".globl strad_addi, strad_addi_at\n"
        "strad_addi:\n"
        "strad_addi_at:\n\t"
        ".option push\n\t.option norvc\n\t"
        "addi a0, a0, 0x123\n\t" /* page offset 0xffe */
        ".option pop\n\t"
        "c.jr ra\n\t"
        /* next page: auipc straddling */
        ".skip 0xffe - 4\n"
        ".globl strad_auipc, strad_auipc_at\n"
        "strad_auipc:\n"
        "strad_auipc_at:\n\t"
        ".option push\n\t.option norvc\n\t"
        "auipc a0, 1\n\t"
        ".option pop\n\t"
        "c.jr ra\n\t"
        ".skip 0xffe - 4\n"
        ".globl strad_jal, strad_jal_at, strad_jal_link\n"
        "strad_jal:\n"
        "strad_jal_at:\n\t"
        ".option push\n\t.option norvc\n\t"
        "jal a0, 1f\n"
        "strad_jal_link:\n\t"
        ".option pop\n\t"
        "c.li a0, 0\n\t"
        "c.jr ra\n"
        "1: c.jr ra\n\t"
        ".skip 0xffe - 8\n"
        ".globl strad_lw\n"
        "strad_lw:\n\t"
        ".option push\n\t.option norvc\n\t"
        "lw a0, 4(a0)\n\t"
        ".option pop\n\t"
        "c.jr ra\n\t"
        ".skip 0xffe - 4\n"
        ".globl strad_beq\n"
        "strad_beq:\n\t"
        ".option push\n\t.option norvc\n\t"
        "beq a0, zero, 1f\n\t"
        ".option pop\n\t"
        "c.li a0, 5\n\t"
        "c.jr ra\n"
        "1: c.li a0, 7\n\t"
        "c.jr ra\n\t"
        /* a straddling instruction whose second page is not executable
         * (PMP, from U-mode); that page holds nothing else */
        ".balign 4096\n\t"
        ".skip 0xffe\n"
        ".globl strad_nx\n"
        "strad_nx:\n\t"
        ".option push\n\t.option norvc\n\t"
        "addi a0, a0, 1\n\t"
        ".option pop\n\t"
        "c.jr ra\n\t"
        ".balign 4096\n\t"
        ".option pop\n\t"
        ".text\n");

static void test_straddle(void)
{
    CHECK("straddle addr", (u64)strad_addi_at & 0xfff, 0xffe);
    CHECK("straddle addi", strad_addi(1), 0x124);
    CHECK("straddle sled", strad_sled(2), 0x125);
    CHECK("straddle addi again", strad_addi(3), 0x126);
    CHECK("straddle auipc addr", (u64)strad_auipc_at & 0xfff, 0xffe);
    CHECK("straddle auipc", strad_auipc(), (u64)strad_auipc_at + 0x1000);
    CHECK("straddle jal addr", (u64)strad_jal_at & 0xfff, 0xffe);
    CHECK("straddle jal", strad_jal(), (u64)strad_jal_link);
    CHECK("straddle jal again", strad_jal(), (u64)strad_jal_link);
    CHECK("straddle lw addr", (u64)strad_lw & 0xfff, 0xffe);
    u32 data[2] = {1, 0x87654321};
    CHECK("straddle lw", strad_lw(data), 0xffffffff87654321ull);
    CHECK("straddle beq addr", (u64)strad_beq & 0xfff, 0xffe);
    CHECK("straddle beq taken", strad_beq(0), 7);
    CHECK("straddle beq not", strad_beq(1), 5);

    /* fetch fault on the second half: epc = start of the instruction, tval =
     * the address of the part that faulted (the start of the second page) */
    u64 nx = (u64)strad_nx + 2;
    CHECK("straddle nx addr", nx & 0xfff, 0);
    CHECK("straddle nx M-mode", strad_nx(1), 2);
    csr_write(pmpaddr0, (nx >> 2) | 0x1ff); /* NAPOT 4 KiB, R|W, no X */
    csr_write(pmpaddr1, ~0ull);
    csr_write(pmpcfg0, 0x1b | (0x1full << 8));
    TRAP_EXPECT();
    u64 r = call_in_mode(PRIV_U, (void *)strad_nx, 1, 0);
    TRAP_END();
    csr_write(pmpcfg0, 0x1f);
    csr_write(pmpaddr0, ~0ull);
    csr_write(pmpaddr1, 0);
    CHECK("straddle nx count", trap.count, 1);
    CHECK("straddle nx cause", trap.cause, CAUSE_FETCH_ACCESS);
    CHECK("straddle nx epc", trap.epc, (u64)strad_nx);
    CHECK("straddle nx tval", trap.tval, nx);
    CHECK("straddle nx a0", r, 1);
    CHECK("straddle nx after", strad_nx(5), 6);
}

/* ---------------- HINTs and reserved encodings ---------------- */
static void test_hints(void)
{
    /* HINTs execute as no-ops; a0..a1 keep their values */
    register u64 a __asm__("a0") = 0x1234567890abcdefull;
    register u64 b __asm__("a1") = 0x0fedcba987654321ull;
    u64 z;
    __asm__ volatile(".2byte 0x0005\n\t" /* c.nop with nzimm=1 */
                     ".2byte 0x107d\n\t" /* c.nop with nzimm=-1 */
                     ".2byte 0x0501\n\t" /* c.addi a0, 0 */
                     ".2byte 0x4015\n\t" /* c.li x0, 5 */
                     ".2byte 0x6005\n\t" /* c.lui x0, 1 */
                     ".2byte 0x802e\n\t" /* c.mv x0, a1 */
                     ".2byte 0x902e\n\t" /* c.add x0, a1 */
                     ".2byte 0x0006\n\t" /* c.slli x0, 1 */
                     ".2byte 0x0502\n\t" /* c.slli a0, 0 */
                     ".2byte 0x8101\n\t" /* c.srli a0, 0 */
                     ".2byte 0x8501\n\t" /* c.srai a0, 0 */
                     "mv %2, zero"
                     : "+r"(a), "+r"(b), "=r"(z));
    CHECK("hints a0", a, 0x1234567890abcdefull);
    CHECK("hints a1", b, 0x0fedcba987654321ull);
    CHECK("hints x0", z, 0);
}

#define EXPECT_ILL16(name, enc)                                                                \
    do {                                                                                       \
        u64 _pc;                                                                               \
        TRAP_EXPECT();                                                                         \
        __asm__ volatile("lla %0, 1f\n1: .2byte " #enc : "=r"(_pc)::"memory");                \
        TRAP_END();                                                                            \
        CHECK(name " count", trap.count, 1);                                                   \
        CHECK(name " cause", trap.cause, CAUSE_ILLEGAL_INSN);                                  \
        CHECK(name " epc", trap.epc, _pc);                                                     \
        CHECK(name " tval", trap.tval, (u64)(enc));                                            \
    } while (0)

static void test_reserved(void)
{
    EXPECT_ILL16("0x0000", 0x0000);
    EXPECT_ILL16("c.addi4spn nzuimm=0", 0x0008);     /* rd'=a0 */
    EXPECT_ILL16("c.addi4spn nzuimm=0 a5", 0x001c);
    EXPECT_ILL16("Q0 funct3=100", 0x8000);
    EXPECT_ILL16("Q0 funct3=100 b", 0x9fe0);
    EXPECT_ILL16("c.addiw rd=0", 0x2001);
    EXPECT_ILL16("c.addiw rd=0 imm", 0x307d);
    EXPECT_ILL16("c.lui imm=0", 0x6501);              /* c.lui a0, 0 */
    EXPECT_ILL16("c.lui x0 imm=0", 0x6001);
    EXPECT_ILL16("c.addi16sp imm=0", 0x6101);
    EXPECT_ILL16("c.subw-space f2=10", 0x9d4d);       /* 100 1 11 010 10 011 01 */
    EXPECT_ILL16("c.subw-space f2=11", 0x9d6d);
    EXPECT_ILL16("c.lwsp rd=0", 0x4002);
    EXPECT_ILL16("c.lwsp rd=0 imm", 0x507e);
    EXPECT_ILL16("c.ldsp rd=0", 0x6002);
    EXPECT_ILL16("c.jr rs1=0", 0x8002);

    /* C.EBREAK: breakpoint, epc = its address; the handler skips 2 bytes */
    u64 pc;
    TRAP_EXPECT();
    __asm__ volatile(RVC_BEGIN "lla %0, 1f\n1: c.ebreak" RVC_END : "=r"(pc)::"memory");
    TRAP_END();
    CHECK("c.ebreak count", trap.count, 1);
    CHECK("c.ebreak cause", trap.cause, CAUSE_BREAKPOINT);
    CHECK("c.ebreak epc", trap.epc, pc);
    CHECKT("c.ebreak tval pc or 0", trap.tval == pc || trap.tval == 0);
}

int main(void)
{
    test_name = "rvc";
    test_alu();
    test_sp();
    test_control();
    test_straddle();
    test_hints();
    test_reserved();
    return 0;
}
