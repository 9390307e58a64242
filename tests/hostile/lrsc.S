/* Every hart hammers one LR/SC reservation: NHARTS harts each add 1 to one
 * counter ITER times with an LR/SC loop (and count themselves done with an
 * AMO); hart 0 waits for all of them and checks the sum through the test
 * finisher (pass, or fail with code 1). Built with -DNHARTS=N. */
#define ITER 3000
    .section .text.start, "ax"
    .globl _start
_start:
    csrr a0, mhartid
    la t0, counter
    li t1, ITER
1:  lr.d t2, (t0)
    addi t2, t2, 1
    sc.d t3, t2, (t0)
    bnez t3, 1b
    addi t1, t1, -1
    bnez t1, 1b
    la t4, done
    li t5, 1
    amoadd.d zero, t5, (t4)
    bnez a0, park
    li t6, NHARTS
2:  ld t5, 0(t4)
    bne t5, t6, 2b
    ld t2, 0(t0)
    li t3, NHARTS * ITER
    li t0, 0x100000
    bne t2, t3, 3f
    li t1, 0x5555
    sw t1, 0(t0)
3:  li t1, (1 << 16) | 0x3333
    sw t1, 0(t0)
park:
    wfi
    j park

    .data
    .balign 64
counter: .dword 0
    .balign 64
done: .dword 0
