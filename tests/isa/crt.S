/*
 * Start-up code and trap entries shared by every ISA test.
 * Entered at 0x80000000 in M-mode (a0 = hartid, a1 = fdt, both ignored).
 */
#include "common.h"

#define FRAME 272 /* 32 regs + vector slot + pad */

    .section .text.start, "ax"
    .globl _start
_start:
    .option push
    .option norvc
    csrw mie, zero
    csrw mstatus, zero
    la t0, early_trap
    csrw mtvec, t0
    la sp, __stack_top
    .option pop
    /* PMP entry 0: NAPOT over the whole address space, RWX, so that S/U-mode
     * may access all memory (with no entry configured they could access
     * nothing). */
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    /* zero .bss */
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:
    la t0, __mtrap_stack_top
    csrw mscratch, t0
    la t0, __strap_stack_top
    csrw sscratch, t0
    la t0, m_trap_entry
    csrw mtvec, t0
    la t0, s_trap_entry
    csrw stvec, t0
    csrw medeleg, zero
    csrw mideleg, zero
    csrw satp, zero
    /* FP on (Initial), fcsr cleared */
    li t0, (1 << MSTATUS_FS_SHIFT)
    csrs mstatus, t0
    csrw fcsr, zero
    call main
    call test_done
3:  j 3b

    /* trap before the framework is set up: fail with code 254 */
    .align 2
early_trap:
    li t0, FINISHER_BASE
    li t1, (254 << 16) | 0x3333
    sw t1, 0(t0)
4:  j 4b

/* ---------------------------------------------------------------- */
.macro SAVE_REGS
    sd x1, 1*8(sp)
    sd x3, 3*8(sp)
    sd x4, 4*8(sp)
    sd x5, 5*8(sp)
    sd x6, 6*8(sp)
    sd x7, 7*8(sp)
    sd x8, 8*8(sp)
    sd x9, 9*8(sp)
    sd x10, 10*8(sp)
    sd x11, 11*8(sp)
    sd x12, 12*8(sp)
    sd x13, 13*8(sp)
    sd x14, 14*8(sp)
    sd x15, 15*8(sp)
    sd x16, 16*8(sp)
    sd x17, 17*8(sp)
    sd x18, 18*8(sp)
    sd x19, 19*8(sp)
    sd x20, 20*8(sp)
    sd x21, 21*8(sp)
    sd x22, 22*8(sp)
    sd x23, 23*8(sp)
    sd x24, 24*8(sp)
    sd x25, 25*8(sp)
    sd x26, 26*8(sp)
    sd x27, 27*8(sp)
    sd x28, 28*8(sp)
    sd x29, 29*8(sp)
    sd x30, 30*8(sp)
    sd x31, 31*8(sp)
.endm

.macro RESTORE_REGS
    ld x1, 1*8(sp)
    ld x3, 3*8(sp)
    ld x4, 4*8(sp)
    ld x5, 5*8(sp)
    ld x6, 6*8(sp)
    ld x7, 7*8(sp)
    ld x8, 8*8(sp)
    ld x9, 9*8(sp)
    ld x10, 10*8(sp)
    ld x11, 11*8(sp)
    ld x12, 12*8(sp)
    ld x13, 13*8(sp)
    ld x14, 14*8(sp)
    ld x15, 15*8(sp)
    ld x16, 16*8(sp)
    ld x17, 17*8(sp)
    ld x18, 18*8(sp)
    ld x19, 19*8(sp)
    ld x20, 20*8(sp)
    ld x21, 21*8(sp)
    ld x22, 22*8(sp)
    ld x23, 23*8(sp)
    ld x24, 24*8(sp)
    ld x25, 25*8(sp)
    ld x26, 26*8(sp)
    ld x27, 27*8(sp)
    ld x28, 28*8(sp)
    ld x29, 29*8(sp)
    ld x30, 30*8(sp)
    ld x31, 31*8(sp)
    ld x2, 2*8(sp)
.endm

/* M-mode trap entry (direct mode). mscratch holds the trap stack top. */
    .align 6
    .globl m_trap_entry
m_trap_entry:
    csrrw sp, mscratch, sp
    addi sp, sp, -FRAME
    sd t0, 5*8(sp)
    li t0, -1
m_trap_common:
    sd t0, 32*8(sp)          /* vector index */
    ld t0, 5*8(sp)
    SAVE_REGS
    csrr t0, mscratch        /* interrupted sp */
    sd t0, 2*8(sp)
    addi t0, sp, FRAME
    csrw mscratch, t0
    mv a0, sp
    call m_trap_c
    RESTORE_REGS
    mret

/* S-mode trap entry (direct mode). sscratch holds the S trap stack top. */
    .align 6
    .globl s_trap_entry
s_trap_entry:
    csrrw sp, sscratch, sp
    addi sp, sp, -FRAME
    sd t0, 5*8(sp)
    li t0, -1
s_trap_common:
    sd t0, 32*8(sp)
    ld t0, 5*8(sp)
    SAVE_REGS
    csrr t0, sscratch
    sd t0, 2*8(sp)
    addi t0, sp, FRAME
    csrw sscratch, t0
    mv a0, sp
    call s_trap_c
    RESTORE_REGS
    sret

/* Vector tables for MODE=1 (vectored): entry i at base + 4*i. Every entry
 * is a 4-byte jump (norvc) to a stub that records i. */
.macro VSTUB pfx, i, scratch, common
\pfx\()_vstub_\i:
    csrrw sp, \scratch, sp
    addi sp, sp, -FRAME
    sd t0, 5*8(sp)
    li t0, \i
    j \common
.endm

    .option push
    .option norvc
    .align 8
    .globl m_vector_table
m_vector_table:
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    j m_vstub_\i
    .endr
    .align 8
    .globl s_vector_table
s_vector_table:
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    j s_vstub_\i
    .endr
    .option pop

    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    VSTUB m, \i, mscratch, m_trap_common
    .endr
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    VSTUB s, \i, sscratch, s_trap_common
    .endr

/* u64 call_in_mode(int priv, void *fn, u64 arg, u64 sp) -- see common.h */
    .text
    .globl call_in_mode
call_in_mode:
    addi sp, sp, -112
    sd ra, 0(sp)
    sd s0, 8(sp)
    sd s1, 16(sp)
    sd s2, 24(sp)
    sd s3, 32(sp)
    sd s4, 40(sp)
    sd s5, 48(sp)
    sd s6, 56(sp)
    sd s7, 64(sp)
    sd s8, 72(sp)
    sd s9, 80(sp)
    sd s10, 88(sp)
    sd s11, 96(sp)
    la t0, cim_saved_sp
    sd sp, 0(t0)
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    andi a0, a0, 3
    slli t1, a0, MSTATUS_MPP_SHIFT
    csrs mstatus, t1
    la t0, g_priv
    sw a0, 0(t0)
    csrw mepc, a1
    mv a0, a2
    la ra, cim_return_tramp
    beqz a3, 1f
    mv sp, a3
1:  mret

    .globl cim_resume
cim_resume:
    la t0, cim_saved_sp
    ld sp, 0(t0)
    ld ra, 0(sp)
    ld s0, 8(sp)
    ld s1, 16(sp)
    ld s2, 24(sp)
    ld s3, 32(sp)
    ld s4, 40(sp)
    ld s5, 48(sp)
    ld s6, 56(sp)
    ld s7, 64(sp)
    ld s8, 72(sp)
    ld s9, 80(sp)
    ld s10, 88(sp)
    ld s11, 96(sp)
    addi sp, sp, 112
    ret

    .section .text.user, "ax"
    .globl cim_return_tramp
cim_return_tramp:
    li a7, ECALL_MAGIC_RET
    ecall
1:  j 1b

    .data
    .align 3
cim_saved_sp: .dword 0
