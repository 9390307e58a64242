/* Bare-metal start-up for the CPU benchmark: M-mode at 0x80000000. */
    .section .text.start, "ax"
    .globl _start
_start:
    csrw mie, zero
    la t0, trap_entry
    csrw mtvec, t0
    la sp, __stack_top
    /* let S-mode touch all memory (PMP entry 0: NAPOT, RWX) */
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    /* FPU on (mstatus.FS = Initial) */
    li t0, (1 << 13)
    csrs mstatus, t0
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call bench_main
3:  j 3b

/* enter_s(fn, satp): continue at fn in S-mode with the given satp. */
    .globl enter_s
enter_s:
    csrw satp, a1
    sfence.vma
    csrw mepc, a0
    li t0, (3 << 11)
    csrc mstatus, t0
    li t0, (1 << 11)
    csrs mstatus, t0
    mret

/* Any trap is a benchmark failure: report the cause through the finisher. */
    .align 2
trap_entry:
    csrr a0, mcause
    slli a0, a0, 16
    li t0, 0x3333
    or a0, a0, t0
    li t0, 0x100000
    sw a0, 0(t0)
4:  j 4b
