/* Dirty page logging (mem/dirty.c) against a reference: programs that
 * store to known pages (plain stores, byte stores, AMOs; bare and under
 * Sv39, where the page walker's A/D updates dirty the page-table page) on
 * both engines, rounds that write some pages again (the log must re-arm
 * after each read), a virtio device filling a buffer, and logging off. */
#include "vmm/devices.h"
#include "check.h"
#include "mem/dirty.h"
#include "virtio_driver.h"
#include "virtio/devices.h"
#include "board/virt.h"
#include "vmm/vm.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct check_ctx c;

#define DATA  0x40000u /* RAM offset of the pages the programs write */
#define CODE  0x1000u
#define ROOT  0x20000u
#define WORDS 4 /* 256 pages of 1 MiB */

static uint32_t i_type(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned opc)
{
    return ((uint32_t)(imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc;
}

/* t0 = VM_RAM_BASE + off (off < 2 GiB), then a store of the chosen kind. */
static unsigned emit_store(uint32_t *code, uint64_t off, unsigned kind)
{
    uint64_t a = VM_RAM_BASE + off;
    uint32_t hi = (uint32_t)((a + 0x800) >> 12) & 0xfffff;
    unsigned n = 0;
    code[n++] = (hi << 12) | (5u << 7) | 0x37;                           /* lui t0 */
    code[n++] = i_type((int32_t)(a & 0xfff) << 20 >> 20, 5, 0, 5, 0x13); /* addi */
    code[n++] = i_type(32, 5, 1, 5, 0x13);                     /* slli t0, 32: RAM is above */
    code[n++] = i_type(32, 5, 5, 5, 0x13);                     /* srli t0, 32  2 GiB, no sign */
    if (kind == 0) code[n++] = (5u << 15) | (3u << 12) | 0x23; /* sd x0 */
    if (kind == 1) code[n++] = (5u << 15) | (0u << 12) | 0x23 | (1u << 7);     /* sb x0, 1 */
    if (kind == 2) code[n++] = (0x00u << 27) | (5u << 15) | (3u << 12) | 0x2f; /* amoadd.d */
    return n;
}

static struct vm *make_vm(int engine)
{
    char err[256];
    struct vm_config cfg = {.ram_size = 1 << 20, .ncpus = 1, .engine = engine, .jit_hot = 1};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    CHECK(&c, vm && virt_board_create(vm, err, sizeof(err)) == 0, "vm: %s", err);
    if (vm) vm->console_out_fd = -1;
    return vm;
}

/* Run a program storing to the given pages (RAM page numbers); priv S
 * with Sv39 when paged. */
static void run_stores(struct vm *vm, const unsigned *pages, unsigned np, int paged)
{
    static uint32_t code[4096];
    unsigned n = 0;
    for (unsigned i = 0; i < np; i++)
        n += emit_store(code + n, (uint64_t)pages[i] << 12 | (i * 8 % 4000), i % 3);
    code[n++] = 0x0000006fu; /* j . */
    memcpy(vm->ram + CODE, code, 4 * n);
    struct hart *h = vm->harts[0];
    hart_reset(h, VM_RAM_BASE + CODE);
    csr_write(h, 0x3b0, ~0ull); /* PMP entry 0 over everything, RWX: S may run */
    csr_write(h, 0x3a0, 0x1f);
    if (paged) { /* one gigapage over RAM, A and D clear: the walker sets them */
        uint64_t pte = ((VM_RAM_BASE >> 12) << 10) | 0x0f;
        memset(vm->ram + ROOT, 0, 4096);
        memcpy(vm->ram + ROOT + 16, &pte, 8);
        h->priv = PRV_S;
        h->satp = (8ull << 60) | ((VM_RAM_BASE + ROOT) >> 12);
    }
    h->instret = 0;
    while (h->instret < n - 1)
        if (hart_run(h, n - 1 - h->instret, 0) != HART_EXIT_YIELD) break;
}

static unsigned count_bits(const uint64_t *w)
{
    unsigned n = 0;
    for (unsigned i = 0; i < WORDS; i++)
        n += (unsigned)__builtin_popcountll(w[i]);
    return n;
}

static int has(const uint64_t *w, unsigned page)
{
    return (w[page / 64] >> (page % 64)) & 1;
}

static void test_harts(int engine, int paged)
{
    const char *eng = engine == VM_ENGINE_JIT ? "jit" : "interp";
    struct vm *vm = make_vm(engine);
    if (!vm) return;
    char err[128];
    uint64_t log[WORDS];
    CHECK(&c, mem_dirty_start(vm, err, sizeof(err)) == 0, "start: %s", err);
    CHECK(&c, mem_dirty_start(vm, err, sizeof(err)) < 0, "a second start is refused");
    const unsigned base = DATA >> 12;
    unsigned a[] = {base + 1, base + 5, base + 5, base + 9, base + 40, base + 41, base + 100};
    run_stores(vm, a, 7, paged);
    uint64_t got = mem_dirty_read_clear(vm, log, WORDS);
    unsigned want = 6 + (paged ? 1 : 0); /* and the page table, for its A/D bits */
    CHECK(&c, got == want && count_bits(log) == want, "%s%s round 1: %llu pages, want %u", eng,
          paged ? " sv39" : "", (unsigned long long)got, want);
    for (unsigned i = 0; i < 7; i++)
        CHECK(&c, has(log, a[i]), "%s round 1: page %u", eng, a[i]);
    if (paged) CHECK(&c, has(log, ROOT >> 12), "%s: the page table page (A/D)", eng);
    CHECK(&c, !has(log, CODE >> 12), "%s: code is not dirty", eng);
    /* Round 2 writes a page of round 1 again (its write translation from
     * round 1 must not hide it) and a new one. */
    unsigned b[] = {base + 5, base + 77};
    run_stores(vm, b, 2, paged);
    got = mem_dirty_read_clear(vm, log, WORDS);
    CHECK(&c, has(log, base + 5) && has(log, base + 77), "%s round 2: pages %u and %u", eng,
          base + 5, base + 77);
    CHECK(&c, !has(log, base + 1) && !has(log, base + 100), "%s round 2: round 1's pages clean",
          eng);
    /* Nothing written: nothing dirty. */
    CHECK_EQ(&c, mem_dirty_read_clear(vm, log, WORDS), 0);
    /* Off: no log. */
    mem_dirty_stop(vm);
    run_stores(vm, a, 7, paged);
    CHECK_EQ(&c, mem_dirty_read_clear(vm, log, WORDS), 0);
    vm_destroy(vm);
}

/* virtio-rng fills a buffer: that page and the used ring's are dirty. */
static void test_device(void)
{
    struct vm_config cfg = {.ram_size = 16u << 20, .ncpus = 1, .hyp_sbi = 1};
    char err[256];
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_RNG, "", err, sizeof(err)) < 0) {
        CHECK(&c, 0, "setup: %s", err);
        if (vm) vm_destroy(vm);
        return;
    }
    struct tdrv t;
    uint64_t rings = VM_RAM_BASE + 0x100000, buf = VM_RAM_BASE + 0x208000;
    tdrv_init(&t, vm, VIRT_VIRTIO_BASE, 0, 8, rings, VIRTIO_F_VERSION_1);
    uint64_t log[64];
    CHECK(&c, mem_dirty_start(vm, err, sizeof(err)) == 0, "start: %s", err);
    tdrv_desc(&t, 0, buf, 64, VRING_DESC_F_WRITE, 0);
    tdrv_kick(&t, 0, 0);
    for (int i = 0; i < 1000 && tdrv_used_idx(&t) != 1; i++)
        usleep(1000);
    CHECK_EQ(&c, tdrv_used_idx(&t), 1);
    uint64_t got = mem_dirty_read_clear(vm, log, 64);
    unsigned pbuf = (unsigned)((buf - VM_RAM_BASE) >> 12),
             pused = (unsigned)((t.used - VM_RAM_BASE) >> 12);
    CHECK(&c, has(log, pbuf), "the device's buffer page is dirty");
    CHECK(&c, has(log, pused), "the used ring's page is dirty");
    CHECK(&c, got == 2, "%llu pages dirty, want 2", (unsigned long long)got);
    vm_destroy(vm);
}

int main(void)
{
    test_harts(VM_ENGINE_INTERP, 0);
    test_harts(VM_ENGINE_JIT, 0);
    test_harts(VM_ENGINE_INTERP, 1);
    test_harts(VM_ENGINE_JIT, 1);
    test_device();
    return check_report(&c, "test_dirty");
}
