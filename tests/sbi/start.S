# S-mode entry for the SBI test program: vmon (hypervisor SBI mode) starts
# hart 0 here in S-mode with a0 = hartid, a1 = FDT.
    .section .text.start
    .globl _start
_start:
    la sp, stack_top
    la t0, trap_entry
    csrw stvec, t0
    call sbi_main
1:  j 1b

# Secondary hart entry (HSM hart_start): a0 = hartid, a1 = opaque.
    .globl secondary_entry
secondary_entry:
    la sp, stack2_top
    call secondary_main
1:  j 1b

    .align 4
    .globl trap_entry
trap_entry:
    addi sp, sp, -128
    sd ra, 0(sp)
    sd t0, 8(sp)
    sd t1, 16(sp)
    sd t2, 24(sp)
    sd a0, 32(sp)
    sd a1, 40(sp)
    sd a2, 48(sp)
    sd a3, 56(sp)
    sd a4, 64(sp)
    sd a5, 72(sp)
    sd a6, 80(sp)
    sd a7, 88(sp)
    sd t3, 96(sp)
    sd t4, 104(sp)
    sd t5, 112(sp)
    sd t6, 120(sp)
    call trap_handler
    ld ra, 0(sp)
    ld t0, 8(sp)
    ld t1, 16(sp)
    ld t2, 24(sp)
    ld a0, 32(sp)
    ld a1, 40(sp)
    ld a2, 48(sp)
    ld a3, 56(sp)
    ld a4, 64(sp)
    ld a5, 72(sp)
    ld a6, 80(sp)
    ld a7, 88(sp)
    ld t3, 96(sp)
    ld t4, 104(sp)
    ld t5, 112(sp)
    ld t6, 120(sp)
    addi sp, sp, 128
    sret

    .bss
    .align 12
    .space 16384
stack_top:
    .space 8192
stack2_top:
