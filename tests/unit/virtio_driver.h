/* A minimal virtio-mmio driver for tests and fuzzers: it sets up a device
 * the way Linux does (status handshake, feature negotiation, one queue) by
 * writing the device's registers through the guest physical bus, and
 * builds descriptor chains in guest RAM. */
#ifndef VMON_TEST_VIRTIO_DRIVER_H
#define VMON_TEST_VIRTIO_DRIVER_H
#include "board/virt.h"
#include "mem/bus.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"
#include <string.h>

#define TV_MAGIC            0x000
#define TV_DEVICE_ID        0x008
#define TV_DEV_FEATURES     0x010
#define TV_DEV_FEATURES_SEL 0x014
#define TV_DRV_FEATURES     0x020
#define TV_DRV_FEATURES_SEL 0x024
#define TV_QUEUE_SEL        0x030
#define TV_QUEUE_NUM_MAX    0x034
#define TV_QUEUE_NUM        0x038
#define TV_QUEUE_READY      0x044
#define TV_QUEUE_NOTIFY     0x050
#define TV_ISR              0x060
#define TV_ISR_ACK          0x064
#define TV_STATUS           0x070
#define TV_DESC_LO          0x080
#define TV_DESC_HI          0x084
#define TV_AVAIL_LO         0x090
#define TV_AVAIL_HI         0x094
#define TV_USED_LO          0x0a0
#define TV_USED_HI          0x0a4

struct tdrv {
    struct vm *vm;
    uint64_t base;              /* MMIO base of the device */
    uint32_t qnum;              /* queue size */
    uint64_t desc, avail, used; /* ring guest addresses */
    uint16_t avail_idx;
};

static inline uint32_t tdrv_rd(struct tdrv *t, uint64_t off)
{
    uint64_t v = 0;
    bus_read(&t->vm->bus, t->base + off, 4, &v);
    return (uint32_t)v;
}

static inline void tdrv_wr(struct tdrv *t, uint64_t off, uint32_t v)
{
    bus_write(&t->vm->bus, t->base + off, 4, v);
}

static inline uint8_t *tdrv_ram(struct tdrv *t, uint64_t gpa)
{
    return t->vm->ram + (gpa - t->vm->ram_base);
}

/* Reset the device at base and negotiate: the driver accepts features
 * (masked with what the device offers). Returns the status after
 * FEATURES_OK (which the device may have refused). */
static inline uint32_t tdrv_negotiate(struct vm *vm, uint64_t base, uint64_t features)
{
    struct tdrv t = {.vm = vm, .base = base};
    tdrv_wr(&t, TV_STATUS, 0);
    tdrv_wr(&t, TV_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    tdrv_wr(&t, TV_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint64_t offered = 0;
    for (unsigned sel = 0; sel < 2; sel++) {
        tdrv_wr(&t, TV_DEV_FEATURES_SEL, sel);
        offered |= (uint64_t)tdrv_rd(&t, TV_DEV_FEATURES) << (32 * sel);
    }
    uint64_t acc = offered & features;
    for (unsigned sel = 0; sel < 2; sel++) {
        tdrv_wr(&t, TV_DRV_FEATURES_SEL, sel);
        tdrv_wr(&t, TV_DRV_FEATURES, (uint32_t)(acc >> (32 * sel)));
    }
    tdrv_wr(&t, TV_STATUS,
            VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return tdrv_rd(&t, TV_STATUS);
}

/* Set up queue idx (qnum entries) with its rings from guest address rings
 * (16-byte aligned) and make it ready; t describes the queue afterwards. */
static inline void tdrv_queue(struct tdrv *t, struct vm *vm, uint64_t base, unsigned idx,
                              uint32_t qnum, uint64_t rings)
{
    memset(t, 0, sizeof(*t));
    t->vm = vm;
    t->base = base;
    t->qnum = qnum;
    t->desc = rings;
    t->avail = rings + 16ull * qnum;
    t->used = (t->avail + 6 + 2ull * qnum + 4095) & ~4095ull;
    memset(tdrv_ram(t, t->desc), 0, 16ull * qnum);
    memset(tdrv_ram(t, t->avail), 0, 6 + 2ull * qnum);
    memset(tdrv_ram(t, t->used), 0, 6 + 8ull * qnum);
    tdrv_wr(t, TV_QUEUE_SEL, idx);
    tdrv_wr(t, TV_QUEUE_NUM, qnum);
    tdrv_wr(t, TV_DESC_LO, (uint32_t)t->desc);
    tdrv_wr(t, TV_DESC_HI, (uint32_t)(t->desc >> 32));
    tdrv_wr(t, TV_AVAIL_LO, (uint32_t)t->avail);
    tdrv_wr(t, TV_AVAIL_HI, (uint32_t)(t->avail >> 32));
    tdrv_wr(t, TV_USED_LO, (uint32_t)t->used);
    tdrv_wr(t, TV_USED_HI, (uint32_t)(t->used >> 32));
    tdrv_wr(t, TV_QUEUE_READY, 1);
}

/* Set DRIVER_OK; returns the final status register. */
static inline uint32_t tdrv_driver_ok(struct vm *vm, uint64_t base)
{
    struct tdrv t = {.vm = vm, .base = base};
    tdrv_wr(&t, TV_STATUS, tdrv_rd(&t, TV_STATUS) | VIRTIO_STATUS_DRIVER_OK);
    return tdrv_rd(&t, TV_STATUS);
}

/* Handshake up to DRIVER_OK with queue q set up at rings. Returns the final
 * status register. */
static inline uint32_t tdrv_init(struct tdrv *t, struct vm *vm, uint64_t base, unsigned q,
                                 uint32_t qnum, uint64_t rings, uint64_t features)
{
    uint32_t st = tdrv_negotiate(vm, base, features);
    memset(t, 0, sizeof(*t));
    t->vm = vm;
    t->base = base;
    t->qnum = qnum;
    if (!(st & VIRTIO_STATUS_FEATURES_OK)) return st;
    tdrv_queue(t, vm, base, q, qnum, rings);
    return tdrv_driver_ok(vm, base);
}

/* Write descriptor i of the queue's table. */
static inline void tdrv_desc(struct tdrv *t, unsigned i, uint64_t addr, uint32_t len,
                             uint16_t flags, uint16_t next)
{
    uint8_t *d = tdrv_ram(t, t->desc + 16ull * i);
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

/* Offer chain head `head` and notify queue q. */
static inline void tdrv_kick(struct tdrv *t, unsigned q, uint16_t head)
{
    uint8_t *a = tdrv_ram(t, t->avail);
    memcpy(a + 4 + 2 * (t->avail_idx % t->qnum), &head, 2);
    t->avail_idx++;
    __atomic_store_n((uint16_t *)(void *)(a + 2), t->avail_idx, __ATOMIC_RELEASE);
    tdrv_wr(t, TV_QUEUE_NOTIFY, q);
}

static inline uint16_t tdrv_used_idx(struct tdrv *t)
{
    return __atomic_load_n((uint16_t *)(void *)tdrv_ram(t, t->used + 2), __ATOMIC_ACQUIRE);
}

/* The used ring element n: id and len. */
static inline void tdrv_used_elem(struct tdrv *t, unsigned n, uint32_t *id, uint32_t *len)
{
    uint8_t *e = tdrv_ram(t, t->used + 4 + 8ull * (n % t->qnum));
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
}

#define VRING_DESC_F_NEXT     1u
#define VRING_DESC_F_WRITE    2u
#define VRING_DESC_F_INDIRECT 4u
#endif
