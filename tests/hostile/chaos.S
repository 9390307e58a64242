/* Random code: ROUNDS times, 4 KiB of random words are written to a buffer
 * and run in U- or S-mode (chosen at random, with the FPU on or off and
 * paging off) under a PMP entry that gives them only that buffer; a timer
 * interrupt ends endless loops. The first trap or interrupt ends a round:
 * the M-mode handler cleans up and starts the next. Whatever the random
 * code does (illegal instructions, CSR writes, xRET, WFI, SFENCE, satp,
 * self-modifying stores, jumps anywhere, AMOs), vmon must keep the guest
 * running: the program passes through the test finisher after the last
 * round, or fails with code 2 if a trap ever comes from M-mode. */
#define BUF     0x80100000
#define ROUNDS  3000
#define MTIME   0x200bff8
#define MTCMP   0x2004000
#define FINISH  0x100000

    .section .text.start, "ax"
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    la t0, handler
    csrw mtvec, t0
    /* PMP entry 0: NAPOT over the 4 KiB buffer, RWX; nothing else for S/U */
    li t0, (BUF + 2047) >> 2
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    li t0, 0x80 /* MTIE */
    csrw mie, t0

new_round:
    csrw satp, zero
    la t0, rounds
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    li t2, ROUNDS
    beq t1, t2, pass
    /* fill the buffer from an xorshift generator kept in memory */
    la t0, seed
    ld t3, 0(t0)
    li t4, BUF
    li t5, 1024
1:  slli t6, t3, 13
    xor t3, t3, t6
    srli t6, t3, 7
    xor t3, t3, t6
    slli t6, t3, 17
    xor t3, t3, t6
    sw t3, 0(t4)
    addi t4, t4, 4
    addi t5, t5, -1
    bnez t5, 1b
    sd t3, 0(t0)
    fence.i
    /* the timer fires 2000 ticks (0.2 ms) from now */
    li t0, MTIME
    ld t1, 0(t0)
    li t2, 2000
    add t1, t1, t2
    li t0, MTCMP
    sd t1, 0(t0)
    /* mstatus: MPP = U or S, FS on or off, no MPRV/SUM/MXR/TVM/TW/TSR */
    li t0, 0x7e1800 | (3 << 13)
    csrc mstatus, t0
    andi t1, t3, 1
    slli t1, t1, 11 /* MPP = S if the seed's bit 0 is set */
    csrs mstatus, t1
    andi t1, t3, 2
    slli t1, t1, 12 /* FS = Initial if bit 1 */
    csrs mstatus, t1
    li t0, BUF
    csrw mepc, t0
    mret

    .balign 4 /* mtvec: 4-byte aligned */
handler:
    li t0, -1
    li t1, MTCMP
    sd t0, 0(t1)
    csrr t0, mstatus
    srli t0, t0, 11
    andi t0, t0, 3
    li t1, 3
    beq t0, t1, fail /* a trap from M-mode: vmon did something wrong */
    j new_round

pass:
    li t0, FINISH
    li t1, 0x5555
    sw t1, 0(t0)
    j .
fail:
    li t0, FINISH
    li t1, (2 << 16) | 0x3333
    sw t1, 0(t0)
    j .
park:
    wfi
    j park

    .data
    .balign 8
seed:   .dword 0x9e3779b97f4a7c15
rounds: .dword 0
