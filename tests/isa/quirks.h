/*
 * Known deviations of the reference emulator (QEMU 7.2, -M virt -bios none)
 * from the RISC-V specifications, for the unprivileged ISA tests.
 *
 * The tests check what the spec requires.  Where QEMU is known to differ, a
 * test accepts QEMU's behaviour only when it detects that it runs on QEMU
 * (QEMU reports its version, e.g. 0x070216 for 7.2.22, in both marchid and
 * mimpid; vmon reports 0), and prints a "note:" line saying so.  On vmon
 * only the spec behaviour passes.
 *
 * Deviations used (QEMU 7.2):
 *  - AMO*.W/D to a misaligned address raise a *load* address-misaligned
 *    exception (cause 4); the spec's cause for AMOs is store/AMO
 *    address-misaligned (6), as Spike does.
 *  - AMO*.W/D to an address with no device raise a *load* access fault (5);
 *    the spec's cause is store/AMO access fault (7).
 *  - SC.W/D only access memory when the reservation matches, so a misaligned
 *    SC (or one to a non-memory address) without a reservation just fails
 *    (rd = 1) instead of raising an exception.  The A extension requires the
 *    address-misaligned/access-fault exception for a misaligned LR/SC
 *    regardless of the reservation (Spike: store/AMO misaligned).
 *  - A misaligned load/store split across a page boundary whose second part
 *    faults reports the address of the whole access in mtval; the priv spec
 *    (3.1.16) requires the address of the portion that faulted.
 *  - Without -icount, instret/minstret (and cycle) are host ticks, so the
 *    exact instret counts (rdinstret deltas, minstret write semantics) are
 *    only checked elsewhere.
 */
#ifndef ISA_QUIRKS_H
#define ISA_QUIRKS_H
#include "common.h"

static inline int on_qemu(void)
{
    u64 a = csr_read(marchid), i = csr_read(mimpid);
    return a != 0 && a == i && (a >> 16) >= 4 && (a >> 16) <= 15;
}

static inline void quirk_note(const char *what)
{
    printf_("note: QEMU deviation accepted: %s\n", what);
}
#endif
