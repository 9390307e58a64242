/* virtqueue core and virtio-mmio transport: a driver built into the test
 * feeds well-formed and malformed rings to a real device (virtio-rng) on a
 * real virt board, and checks that bad ones mark the device broken
 * (DEVICE_NEEDS_RESET) without touching memory outside the buffers. */
#include "vmm/devices.h"
#include "check.h"
#include "virtio_driver.h"
#include "virtio/devices.h"
#include "irq/plic.h"
#include <stdlib.h>

static struct check_ctx c;

#define RINGS        (VM_RAM_BASE + 0x100000)
#define BUF          (VM_RAM_BASE + 0x200000)
#define ITABLE       (VM_RAM_BASE + 0x300000)
#define QN           8
#define ALL_FEATURES (VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX)

static struct vm *make_vm(void)
{
    struct vm_config cfg = {.ram_size = 16u << 20, .ncpus = 1, .hyp_sbi = 1};
    char err[256];
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_RNG, "", err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    return vm;
}

static int broken(struct tdrv *t)
{
    return (tdrv_rd(t, TV_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

/* Fill guest RAM [gpa, gpa+len) with a pattern and check it later. */
static void fill(struct tdrv *t, uint64_t gpa, size_t len, uint8_t v)
{
    memset(tdrv_ram(t, gpa), v, len);
}

static int untouched(struct tdrv *t, uint64_t gpa, size_t len, uint8_t v)
{
    const uint8_t *p = tdrv_ram(t, gpa);
    for (size_t i = 0; i < len; i++)
        if (p[i] != v) return 0;
    return 1;
}

static int changed(struct tdrv *t, uint64_t gpa, size_t len, uint8_t v)
{
    return !untouched(t, gpa, len, v);
}

static void test_handshake(struct vm *vm)
{
    struct tdrv t;
    t.vm = vm;
    t.base = VIRT_VIRTIO_BASE;
    CHECK_EQ(&c, tdrv_rd(&t, TV_MAGIC), 0x74726976);
    CHECK_EQ(&c, tdrv_rd(&t, 0x004), 2); /* version: modern */
    CHECK_EQ(&c, tdrv_rd(&t, TV_DEVICE_ID), VIRTIO_ID_RNG);
    /* A legacy driver (no VERSION_1) does not get FEATURES_OK. */
    uint32_t st = tdrv_init(&t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, VIRTIO_F_INDIRECT_DESC);
    CHECK(&c, !(st & VIRTIO_STATUS_FEATURES_OK), "legacy driver refused, status %#x", st);
    st = tdrv_init(&t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, ALL_FEATURES);
    CHECK(&c, st & VIRTIO_STATUS_DRIVER_OK, "driver ok, status %#x", st);
    CHECK_EQ(&c, tdrv_rd(&t, TV_QUEUE_NUM_MAX) >= QN, 1);
    /* Reset returns everything to zero. */
    tdrv_wr(&t, TV_STATUS, 0);
    CHECK_EQ(&c, tdrv_rd(&t, TV_STATUS), 0);
    CHECK_EQ(&c, tdrv_rd(&t, TV_QUEUE_READY), 0);
    /* A queue size that is not a power of two, or rings outside RAM, make
     * the device broken when the queue is enabled. */
    struct tdrv u;
    u.vm = vm;
    u.base = VIRT_VIRTIO_BASE;
    tdrv_init(&u, vm, VIRT_VIRTIO_BASE, 0, 6, RINGS, ALL_FEATURES);
    CHECK(&c, broken(&u), "queue size 6 accepted");
    tdrv_wr(&u, TV_STATUS, 0);
    CHECK(&c, !broken(&u), "reset clears NEEDS_RESET");
}

static void test_valid(struct vm *vm, struct tdrv *t)
{
    tdrv_init(t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, ALL_FEATURES);
    fill(t, BUF, 256, 0);
    tdrv_desc(t, 0, BUF + 16, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    tdrv_desc(t, 1, BUF + 128, 32, VRING_DESC_F_WRITE, 0);
    tdrv_kick(t, 0, 0);
    CHECK_EQ(&c, tdrv_used_idx(t), 1);
    uint32_t id, len;
    tdrv_used_elem(t, 0, &id, &len);
    CHECK_EQ(&c, id, 0);
    CHECK_EQ(&c, len, 96);
    CHECK(&c, changed(t, BUF + 16, 64, 0), "first buffer filled");
    CHECK(&c, changed(t, BUF + 128, 32, 0), "second buffer filled");
    CHECK(&c,
          untouched(t, BUF, 16, 0) && untouched(t, BUF + 80, 48, 0) &&
              untouched(t, BUF + 160, 96, 0),
          "nothing written outside the buffers");
    /* The interrupt is raised (ISR bit 0, PLIC source 1 pending). */
    CHECK_EQ(&c, tdrv_rd(t, TV_ISR) & 1, 1);
    uint64_t pend = 0;
    bus_read(&vm->bus, VIRT_PLIC_BASE + 0x1000, 4, &pend);
    CHECK_EQ(&c, pend & (1u << VIRT_VIRTIO_IRQ), 1u << VIRT_VIRTIO_IRQ);
    tdrv_wr(t, TV_ISR_ACK, 1);
    CHECK_EQ(&c, tdrv_rd(t, TV_ISR), 0);
    CHECK(&c, !broken(t), "device healthy");

    /* Indirect table: two writable buffers through one descriptor. */
    fill(t, BUF, 256, 0);
    uint8_t *it = tdrv_ram(t, ITABLE);
    memset(it, 0, 64);
    uint64_t a0 = BUF, a1 = BUF + 100;
    uint32_t l0 = 40, l1 = 20;
    uint16_t f0 = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, f1 = VRING_DESC_F_WRITE, n1 = 1;
    memcpy(it, &a0, 8), memcpy(it + 8, &l0, 4), memcpy(it + 12, &f0, 2), memcpy(it + 14, &n1, 2);
    memcpy(it + 16, &a1, 8), memcpy(it + 24, &l1, 4), memcpy(it + 28, &f1, 2);
    tdrv_desc(t, 2, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
    tdrv_kick(t, 0, 2);
    CHECK_EQ(&c, tdrv_used_idx(t), 2);
    tdrv_used_elem(t, 1, &id, &len);
    CHECK_EQ(&c, id, 2);
    CHECK_EQ(&c, len, 60);
    CHECK(&c, untouched(t, BUF + 40, 60, 0) && untouched(t, BUF + 120, 100, 0),
          "indirect: nothing written outside the buffers");
    CHECK(&c, !broken(t), "device healthy after indirect");

    /* EVENT_IDX: with used_event far ahead, no interrupt is raised. */
    tdrv_wr(t, TV_ISR_ACK, 3);
    uint16_t ev = 100;
    memcpy(tdrv_ram(t, t->avail + 4 + 2 * QN), &ev, 2);
    tdrv_desc(t, 3, BUF, 8, VRING_DESC_F_WRITE, 0);
    tdrv_kick(t, 0, 3);
    CHECK_EQ(&c, tdrv_used_idx(t), 3);
    CHECK_EQ(&c, tdrv_rd(t, TV_ISR) & 1, 0);
    /* used_event = 3 (the index of the next used entry - 1) asks for one. */
    ev = 3;
    memcpy(tdrv_ram(t, t->avail + 4 + 2 * QN), &ev, 2);
    tdrv_kick(t, 0, 3);
    CHECK_EQ(&c, tdrv_used_idx(t), 4);
    CHECK_EQ(&c, tdrv_rd(t, TV_ISR) & 1, 1);
    /* The device asks to be notified at the next avail index. */
    uint16_t avail_event;
    memcpy(&avail_event, tdrv_ram(t, t->used + 4 + 8 * QN), 2);
    CHECK_EQ(&c, avail_event, 4);
}

/* Each malformed case must break the device and leave memory alone. */
struct bad_case {
    const char *name;
    void (*setup)(struct tdrv *t, uint16_t *head);
    uint64_t features;
};

static void bad_loop(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, BUF, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    tdrv_desc(t, 1, BUF + 16, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
    *head = 0;
}
static void bad_self_loop(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 5, BUF, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5);
    *head = 5;
}
static void bad_next_range(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, BUF, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, QN + 3);
    *head = 0;
}
static void bad_head_range(struct tdrv *t, uint16_t *head)
{
    *head = QN;
}
static void bad_addr_rom(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, VIRT_MROM_BASE, 16, VRING_DESC_F_WRITE, 0);
    *head = 0;
}
static void bad_addr_end(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, VM_RAM_BASE + (16u << 20) - 8, 16, VRING_DESC_F_WRITE, 0);
    *head = 0;
}
static void bad_addr_wrap(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, ~0ull - 4, 16, VRING_DESC_F_WRITE, 0);
    *head = 0;
}
static void bad_len_huge(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, BUF, 0xffffffffu, VRING_DESC_F_WRITE, 0);
    *head = 0;
}
static void bad_order(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, BUF, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    tdrv_desc(t, 1, BUF + 16, 16, 0, 0); /* readable after writable */
    *head = 0;
}
static void bad_indirect_nofeat(struct tdrv *t, uint16_t *head)
{
    memset(tdrv_ram(t, ITABLE), 0, 16);
    tdrv_desc(t, 0, ITABLE, 16, VRING_DESC_F_INDIRECT, 0);
    *head = 0;
}
static void bad_indirect_len(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, ITABLE, 24, VRING_DESC_F_INDIRECT, 0);
    *head = 0;
}
static void bad_indirect_nested(struct tdrv *t, uint16_t *head)
{
    uint8_t *it = tdrv_ram(t, ITABLE);
    uint64_t a = ITABLE;
    uint32_t l = 16;
    uint16_t f = VRING_DESC_F_INDIRECT, n = 0;
    memcpy(it, &a, 8), memcpy(it + 8, &l, 4), memcpy(it + 12, &f, 2), memcpy(it + 14, &n, 2);
    tdrv_desc(t, 0, ITABLE, 16, VRING_DESC_F_INDIRECT, 0);
    *head = 0;
}
static void bad_indirect_loop(struct tdrv *t, uint16_t *head)
{
    uint8_t *it = tdrv_ram(t, ITABLE);
    for (uint16_t i = 0; i < 2; i++) {
        uint64_t a = BUF;
        uint32_t l = 8;
        uint16_t f = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, n = (uint16_t)(1 - i);
        memcpy(it + 16 * i, &a, 8), memcpy(it + 16 * i + 8, &l, 4);
        memcpy(it + 16 * i + 12, &f, 2), memcpy(it + 16 * i + 14, &n, 2);
    }
    tdrv_desc(t, 0, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
    *head = 0;
}
static void bad_indirect_outside(struct tdrv *t, uint16_t *head)
{
    tdrv_desc(t, 0, VM_RAM_BASE + (16u << 20) - 16, 64, VRING_DESC_F_INDIRECT, 0);
    *head = 0;
}

static void test_bad(struct vm *vm, struct tdrv *t)
{
    static const struct bad_case cases[] = {
        {"descriptor loop", bad_loop, ALL_FEATURES},
        {"self loop", bad_self_loop, ALL_FEATURES},
        {"next out of range", bad_next_range, ALL_FEATURES},
        {"head out of range", bad_head_range, ALL_FEATURES},
        {"buffer in ROM", bad_addr_rom, ALL_FEATURES},
        {"buffer past RAM end", bad_addr_end, ALL_FEATURES},
        {"address wraps", bad_addr_wrap, ALL_FEATURES},
        {"huge length", bad_len_huge, ALL_FEATURES},
        {"readable after writable", bad_order, ALL_FEATURES},
        {"indirect not negotiated", bad_indirect_nofeat, VIRTIO_F_VERSION_1},
        {"indirect length", bad_indirect_len, ALL_FEATURES},
        {"nested indirect", bad_indirect_nested, ALL_FEATURES},
        {"indirect loop", bad_indirect_loop, ALL_FEATURES},
        {"indirect table outside RAM", bad_indirect_outside, ALL_FEATURES},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tdrv_init(t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, cases[i].features);
        fill(t, BUF, 4096, 0x5a);
        uint16_t head = 0;
        cases[i].setup(t, &head);
        tdrv_kick(t, 0, head);
        CHECK(&c, broken(t), "%s: device not marked broken", cases[i].name);
        CHECK(&c, tdrv_used_idx(t) == 0, "%s: request completed", cases[i].name);
        CHECK(&c, untouched(t, BUF, 4096, 0x5a), "%s: memory written", cases[i].name);
        /* A broken device ignores further requests until reset. */
        tdrv_desc(t, 7, BUF, 16, VRING_DESC_F_WRITE, 0);
        tdrv_kick(t, 0, 7);
        CHECK(&c, tdrv_used_idx(t) == 0, "%s: broken device kept working", cases[i].name);
        /* After a reset it works again. */
        tdrv_init(t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, ALL_FEATURES);
        tdrv_desc(t, 0, BUF, 16, VRING_DESC_F_WRITE, 0);
        tdrv_kick(t, 0, 0);
        CHECK(&c, !broken(t) && tdrv_used_idx(t) == 1, "%s: no recovery after reset",
              cases[i].name);
    }
    /* The available index jumping by more than the queue size. */
    tdrv_init(t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, ALL_FEATURES);
    uint16_t idx = 200;
    memcpy(tdrv_ram(t, t->avail + 2), &idx, 2);
    tdrv_wr(t, TV_QUEUE_NOTIFY, 0);
    CHECK(&c, broken(t), "avail index jump accepted");
    /* Notifying a queue that does not exist is ignored. */
    tdrv_init(t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, ALL_FEATURES);
    tdrv_wr(t, TV_QUEUE_NOTIFY, 5);
    tdrv_wr(t, TV_QUEUE_NOTIFY, 0xffffffffu);
    CHECK(&c, !broken(t), "bogus queue notify");
    /* Registers are 32-bit: other widths fault, config accesses past the
     * end read zero. */
    uint64_t v;
    CHECK(&c, bus_read(&vm->bus, VIRT_VIRTIO_BASE + TV_STATUS, 1, &v) < 0, "byte read");
    CHECK(&c, bus_read(&vm->bus, VIRT_VIRTIO_BASE + 0x100, 4, &v) == 0 && v == 0,
          "config read past end");
}

int main(void)
{
    struct vm *vm = make_vm();
    struct tdrv t;
    test_handshake(vm);
    test_valid(vm, &t);
    test_bad(vm, &t);
    vm_destroy(vm);
    return check_report(&c, "test_virtq");
}
