/* PLIC and CLINT register semantics, driven through the guest physical bus
 * exactly as a guest would, on a real virt board. */
#include "check.h"
#include "board/virt.h"
#include "irq/plic.h"
#include "vmm/vm.h"
#include <stdlib.h>

static struct check_ctx c;

static uint64_t rd(struct vm *vm, uint64_t a, unsigned size)
{
    uint64_t v = 0xdead;
    CHECK(&c, bus_read(&vm->bus, a, size, &v) == 0, "read 0x%llx", (unsigned long long)a);
    return v;
}

static void wr(struct vm *vm, uint64_t a, unsigned size, uint64_t v)
{
    CHECK(&c, bus_write(&vm->bus, a, size, v) == 0, "write 0x%llx", (unsigned long long)a);
}

#define P               VIRT_PLIC_BASE
#define CTX_ENABLE(ctx) (P + 0x2000 + 0x80 * (ctx))
#define CTX_THRESH(ctx) (P + 0x200000 + 0x1000 * (ctx))
#define CTX_CLAIM(ctx)  (CTX_THRESH(ctx) + 4)

static uint64_t async(struct vm *vm, unsigned hart)
{
    return atomic_load(&vm->harts[hart]->mip_async);
}

static void test_plic(struct vm *vm)
{
    struct plic *p = vm->plic;
    /* Nothing enabled: a raised line is pending but no output. */
    plic_set_irq(p, 5, 1);
    CHECK_EQ(&c, rd(vm, P + 0x1000, 4), 1u << 5);
    CHECK_EQ(&c, async(vm, 0) & (MIP_MEIP | MIP_SEIP), 0);
    /* Enable for hart 0's S context (1) with priority 0: still nothing. */
    wr(vm, CTX_ENABLE(1), 4, 1u << 5);
    CHECK_EQ(&c, rd(vm, CTX_ENABLE(1), 4), 1u << 5);
    CHECK_EQ(&c, async(vm, 0) & MIP_SEIP, 0);
    /* Priority 3 > threshold 0: SEIP on hart 0, not MEIP, not hart 1. */
    wr(vm, P + 4 * 5, 4, 3);
    CHECK_EQ(&c, rd(vm, P + 4 * 5, 4), 3);
    CHECK_EQ(&c, async(vm, 0) & (MIP_MEIP | MIP_SEIP), MIP_SEIP);
    CHECK_EQ(&c, async(vm, 1) & (MIP_MEIP | MIP_SEIP), 0);
    /* Threshold 3 masks priority 3. */
    wr(vm, CTX_THRESH(1), 4, 3);
    CHECK_EQ(&c, rd(vm, CTX_THRESH(1), 4), 3);
    CHECK_EQ(&c, async(vm, 0) & MIP_SEIP, 0);
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(1), 4), 0); /* nothing claimable */
    wr(vm, CTX_THRESH(1), 4, 0);
    CHECK_EQ(&c, async(vm, 0) & MIP_SEIP, MIP_SEIP);
    /* Priority is WARL 0..7 */
    wr(vm, P + 4 * 6, 4, 0xff);
    CHECK_EQ(&c, rd(vm, P + 4 * 6, 4), 7);
    /* Two sources: higher priority first; equal priority: lower id first. */
    plic_set_irq(p, 6, 1);
    wr(vm, CTX_ENABLE(1), 4, (1u << 5) | (1u << 6) | (1u << 7));
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(1), 4), 6);
    /* Claimed source is no longer pending; the other still is. */
    CHECK_EQ(&c, rd(vm, P + 0x1000, 4), 1u << 5);
    CHECK_EQ(&c, async(vm, 0) & MIP_SEIP, MIP_SEIP);
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(1), 4), 5);
    CHECK_EQ(&c, async(vm, 0) & MIP_SEIP, 0);
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(1), 4), 0);
    /* Level-triggered: completing while the line is high re-pends it. */
    wr(vm, CTX_CLAIM(1), 4, 6);
    CHECK_EQ(&c, async(vm, 0) & MIP_SEIP, MIP_SEIP);
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(1), 4), 6);
    plic_set_irq(p, 6, 0);
    wr(vm, CTX_CLAIM(1), 4, 6);
    CHECK_EQ(&c, rd(vm, P + 0x1000, 4) & (1u << 6), 0);
    /* Line dropped before claim: no longer pending. */
    plic_set_irq(p, 5, 0);
    wr(vm, CTX_CLAIM(1), 4, 5);
    CHECK_EQ(&c, async(vm, 0) & MIP_SEIP, 0);
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(1), 4), 0);
    /* Equal priorities: the lowest source id wins. */
    wr(vm, P + 4 * 7, 4, 2);
    wr(vm, P + 4 * 5, 4, 2);
    plic_set_irq(p, 7, 1);
    plic_set_irq(p, 5, 1);
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(1), 4), 5);
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(1), 4), 7);
    wr(vm, CTX_CLAIM(1), 4, 5);
    wr(vm, CTX_CLAIM(1), 4, 7);
    plic_set_irq(p, 5, 0);
    plic_set_irq(p, 7, 0);
    /* M context of hart 1 (context 2) drives MEIP of hart 1 only. */
    wr(vm, CTX_ENABLE(2), 4, 1u << 9);
    wr(vm, P + 4 * 9, 4, 1);
    plic_set_irq(p, 9, 1);
    CHECK_EQ(&c, async(vm, 1) & (MIP_MEIP | MIP_SEIP), MIP_MEIP);
    CHECK_EQ(&c, async(vm, 0) & (MIP_MEIP | MIP_SEIP), 0);
    CHECK_EQ(&c, rd(vm, CTX_CLAIM(2), 4), 9);
    CHECK_EQ(&c, async(vm, 1) & MIP_MEIP, 0);
    wr(vm, CTX_CLAIM(2), 4, 9);
    CHECK_EQ(&c, async(vm, 1) & MIP_MEIP, MIP_MEIP);
    plic_set_irq(p, 9, 0);
    CHECK_EQ(&c, async(vm, 1) & MIP_MEIP, 0);
    /* Source 0 does not exist: enable bit 0 is hardwired to zero. */
    wr(vm, CTX_ENABLE(3), 4, 0xffffffff);
    CHECK_EQ(&c, rd(vm, CTX_ENABLE(3), 4), 0xfffffffe);
    /* Out-of-range contexts and bad sizes */
    CHECK_EQ(&c, rd(vm, CTX_ENABLE(5), 4), 0);
    uint64_t v;
    CHECK(&c, bus_read(&vm->bus, P, 8, &v) < 0, "8-byte PLIC access rejected");
    CHECK(&c, bus_read(&vm->bus, P + 2, 2, &v) < 0, "2-byte PLIC access rejected");
}

static void test_clint(struct vm *vm)
{
    const uint64_t C = VIRT_CLINT_BASE;
    /* msip sets and clears MSIP of the addressed hart */
    wr(vm, C + 4, 4, 1);
    CHECK_EQ(&c, async(vm, 1) & MIP_MSIP, MIP_MSIP);
    CHECK_EQ(&c, async(vm, 0) & MIP_MSIP, 0);
    CHECK_EQ(&c, rd(vm, C + 4, 4), 1);
    wr(vm, C + 4, 4, 0);
    CHECK_EQ(&c, async(vm, 1) & MIP_MSIP, 0);
    /* mtime advances at 10 MHz */
    uint64_t t0 = rd(vm, C + 0xbff8, 8);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t t1 = rd(vm, C + 0xbff8, 8);
    CHECK(&c, t1 - t0 >= 150000 && t1 - t0 < 10000000, "mtime advanced %llu ticks in 20 ms",
          (unsigned long long)(t1 - t0));
    /* 32-bit halves of mtime */
    uint64_t lo = rd(vm, C + 0xbff8, 4), hi = rd(vm, C + 0xbffc, 4);
    CHECK(&c, ((hi << 32) | lo) >= t1, "mtime halves");
    /* mtimecmp: 64-bit and 32-bit halves, per hart */
    wr(vm, C + 0x4000 + 8, 8, 0x1122334455667788ull);
    CHECK_EQ(&c, rd(vm, C + 0x4000 + 8, 8), 0x1122334455667788ull);
    wr(vm, C + 0x4000 + 8, 4, 0xaabbccdd);
    CHECK_EQ(&c, rd(vm, C + 0x4000 + 8, 8), 0x11223344aabbccddull);
    wr(vm, C + 0x4000 + 12, 4, 0x01020304);
    CHECK_EQ(&c, rd(vm, C + 0x4000 + 12, 4), 0x01020304);
    CHECK_EQ(&c, atomic_load(&vm->harts[1]->mtimecmp), 0x01020304aabbccddull);
    CHECK_EQ(&c, rd(vm, C + 0x4000, 8), ~0ull); /* hart 0 untouched: reset value */
    /* Writing mtime moves the time base */
    wr(vm, C + 0xbff8, 8, 1000000000ull);
    uint64_t t2 = rd(vm, C + 0xbff8, 8);
    CHECK(&c, t2 >= 1000000000ull && t2 < 1000000000ull + 10000000ull, "mtime write: %llu",
          (unsigned long long)t2);
    /* Non-existent hart and bad sizes */
    CHECK_EQ(&c, rd(vm, C + 4 * 5, 4), 0);
    uint64_t v;
    CHECK(&c, bus_read(&vm->bus, C, 1, &v) < 0, "1-byte CLINT access rejected");
    CHECK(&c, bus_read(&vm->bus, C, 8, &v) < 0, "8-byte msip access rejected");
}

int main(void)
{
    char err[256];
    struct vm_config cfg = {.ram_size = 16 << 20, .ncpus = 2};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    CHECK(&c, vm != NULL, "vm_create: %s", err);
    if (!vm) return check_report(&c, "test_irq");
    CHECK(&c, virt_board_create(vm, err, sizeof(err)) == 0, "board: %s", err);
    test_plic(vm);
    test_clint(vm);
    vm_destroy(vm);
    return check_report(&c, "test_irq");
}
