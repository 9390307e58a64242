/*
 * Code that changes under the hart's feet, as a hostile or JIT-compiling
 * guest writes it. Without FENCE.I, RISC-V leaves the result of running
 * modified code undefined; vmon runs the new code with both engines (as
 * QEMU does between blocks; within one block QEMU 7.2 may run the old
 * instruction, and it fetches from MMIO, so those checks are vmon's only):
 *   - a function rewritten before every call, no FENCE.I;
 *   - a block whose first instruction rewrites a later one of the same block;
 *   - 256 KiB of generated code, rewritten and run again (caches refill);
 *   - jumps into MMIO, unmapped space and a misaligned-fetch-free target.
 */
#include "common.h"
#include "quirks.h"

#define ADDI_A0(imm) (((u32)(imm) << 20) | (10u << 15) | (10u << 7) | 0x13u)
#define RET          0x00008067u

static u32 fn_buf[16] __attribute__((aligned(64)));

/* A function rewritten before each call: addi a0, a0, i; ret. */
static void t_rewrite_each_call(void)
{
    u64 (*fn)(u64) = (u64(*)(u64))(void *)fn_buf;
    u64 sum = 0;
    for (u32 i = 1; i <= 500; i++) {
        fn_buf[0] = ADDI_A0(i);
        fn_buf[1] = RET;
        __asm__ volatile("" ::: "memory");
        sum = fn(sum);
    }
    CHECK("rewritten before every call, no fence.i", sum, 500ull * 501 / 2);
}

/* sw a1, 8(a2); nop; addi a0, a0, 1; ret: the store replaces the addi
 * that follows it in the same block. */
static u32 self_buf[16] __attribute__((aligned(64)));
static void t_same_block(void)
{
    if (on_qemu()) {
        quirk_note("a store into the running block may not take effect at once");
        return;
    }
    self_buf[0] = (11u << 20) | (12u << 15) | (2u << 12) | (8u << 7) | 0x23u; /* sw a1, 8(a2) */
    self_buf[1] = 0x00000013u;                                                 /* nop */
    self_buf[2] = ADDI_A0(1);
    self_buf[3] = RET;
    fence_i();
    u64 r;
    for (int k = 0; k < 3; k++) {
        self_buf[2] = ADDI_A0(1);
        __asm__ volatile("mv a0, zero\n\t"
                         "mv a1, %1\n\t"
                         "mv a2, %2\n\t"
                         "jalr ra, 0(%2)\n\t"
                         "mv %0, a0"
                         : "=r"(r)
                         : "r"((u64)ADDI_A0(100 + k)), "r"(self_buf)
                         : "a0", "a1", "a2", "ra", "memory");
        CHECKI("store into its own block runs the new instruction", k, r, 100 + k);
    }
}

/* 4096 functions of 15 additions each, run, rewritten, run again. */
#define CHURN_FUNCS 4096
static u32 churn[CHURN_FUNCS * 16] __attribute__((aligned(4096)));
static void t_churn(void)
{
    for (u32 pass = 0; pass < 3; pass++) {
        for (u32 f = 0; f < CHURN_FUNCS; f++) {
            for (u32 k = 0; k < 15; k++)
                churn[f * 16 + k] = ADDI_A0((f + k + pass) & 0x3ff);
            churn[f * 16 + 15] = RET;
        }
        fence_i();
        u64 sum = 0, want = 0;
        for (u32 f = 0; f < CHURN_FUNCS; f++) {
            u64 (*fn)(u64) = (u64(*)(u64))(void *)&churn[f * 16];
            sum = fn(sum);
            for (u32 k = 0; k < 15; k++)
                want += (f + k + pass) & 0x3ff;
        }
        CHECKI("generated code, rewritten and rerun", pass, sum, want);
    }
}

/* Jumps to where there is no memory to run. */
static void t_wild_jumps(void)
{
    if (on_qemu()) {
        quirk_note("instructions are fetched from MMIO");
        return;
    }
    static const u64 targets[] = {0x10000000ull /* UART */, 0x0ull, 0x90000000ull};
    for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        TRAP_EXPECT();
        __asm__ volatile("jalr ra, 0(%0)" ::"r"(targets[i]) : "ra", "memory");
        TRAP_END();
        CHECKI("jump into nothing: fetch access fault", i, trap.cause, CAUSE_FETCH_ACCESS);
        CHECKI("jump into nothing: tval", i, trap.tval, targets[i]);
    }
}

int main(void)
{
    test_name = "selfmod";
    t_rewrite_each_call();
    t_same_block();
    t_churn();
    t_wild_jumps();
    return 0;
}
