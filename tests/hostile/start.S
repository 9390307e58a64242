# Entry and trap handler of the hostile-guest program: every exception is
# counted and skipped (mepc += 4; the program is built without compressed
# instructions), so accesses that fault just move on.
    .section .text.start, "ax"
    .globl _start
_start:
    la sp, stack_top
    la t0, trap_stack_top
    csrw mscratch, t0
    la t0, trap
    csrw mtvec, t0
    csrw mie, zero
    call main
1:  j 1b

    .align 4
trap:
    csrrw sp, mscratch, sp
    sd t0, 0(sp)
    sd t1, 8(sp)
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    la t0, traps
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    ld t0, 0(sp)
    ld t1, 8(sp)
    csrrw sp, mscratch, sp
    mret

    .bss
    .align 4
    .globl traps
traps: .dword 0
    .space 256
trap_stack_top:
    .space 16384
stack_top:
