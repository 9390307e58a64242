/* libFuzzer target: the virtio-net request path on user networking. The
 * input picks the negotiated features, a set of receive buffers (sizes
 * chosen by the input, some smaller than the virtio-net header) and a
 * series of transmit requests: virtio-net header plus frame bytes, split
 * over one to three descriptors. Frames go through the device's checks
 * into libslirp, whose replies (ARP, ICMP, TCP resets) come back through
 * the receive path. Build with `make fuzz`; run build/fuzz/fuzz_net. */
#include "vmm/devices.h"
#include "virtio_driver.h"
#include "virtio/devices.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RAM    (4u << 20)
#define RINGS0 (VM_RAM_BASE + 0x10000)
#define RINGS1 (VM_RAM_BASE + 0x20000)
#define RXBUF  (VM_RAM_BASE + 0x100000) /* rx buffer n at RXBUF + n * 0x1000 */
#define TXBUF  (VM_RAM_BASE + 0x200000) /* tx request n at TXBUF + n * 0x11000 */
#define QN     16
#define MAX_TX 8

static void bring_up(struct vm *vm, struct tdrv *rx, struct tdrv *tx, uint64_t want)
{
    tdrv_negotiate(vm, VIRT_VIRTIO_BASE, want);
    tdrv_queue(rx, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS0);
    tdrv_queue(tx, vm, VIRT_VIRTIO_BASE, 1, QN, RINGS1);
    tdrv_driver_ok(vm, VIRT_VIRTIO_BASE);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000};
    nanosleep(&ts, NULL);
}

static uint16_t rd16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    struct vm_config cfg = {.ram_size = RAM, .ncpus = 1, .hyp_sbi = 1};
    char err[256];
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_NET, "user", err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
    struct tdrv rx, tx;
    uint64_t want = VIRTIO_F_VERSION_1 | (1ull << 5) /* MAC */ | (1ull << 16) /* STATUS */;
    if (data[0] & 1) want |= VIRTIO_F_INDIRECT_DESC;
    if (data[0] & 2) want |= VIRTIO_F_EVENT_IDX;
    if (data[0] & 4) want |= 1ull << 15; /* MRG_RXBUF */
    bring_up(vm, &rx, &tx, want);

    /* receive buffers: sizes from the input (0..4095 bytes) */
    unsigned nrx = data[1] & 7;
    size_t off = 2;
    for (unsigned i = 0; i < nrx && off + 2 <= size; i++, off += 2) {
        uint32_t len = rd16le(data + off) & 0xfff;
        tdrv_desc(&rx, i, RXBUF + 0x1000ull * i, len, VRING_DESC_F_WRITE, 0);
        tdrv_kick(&rx, 0, (uint16_t)i);
    }

    /* transmit requests: [len:2][split:1][bytes...], len up to 64 KiB+ */
    unsigned ntx = 0;
    while (ntx < MAX_TX && off + 3 <= size) {
        size_t len = rd16le(data + off) + (data[off + 2] & 0x80 ? 0x10000u : 0);
        unsigned split = data[off + 2] & 0x7f;
        off += 3;
        if (len > size - off) len = size - off;
        uint64_t base = TXBUF + 0x11000ull * ntx;
        memcpy(tdrv_ram(&tx, base), data + off, len);
        off += len;
        /* one, two or three descriptors covering [0, len) */
        unsigned d0 = 3 * ntx;
        size_t a = split % 3 == 0 ? len : (len * (split & 0xf)) / 16;
        size_t b = split % 3 == 2 ? a + (len - a) / 2 : len;
        if (a == len) {
            tdrv_desc(&tx, d0, base, (uint32_t)len, 0, 0);
        } else if (b == len) {
            tdrv_desc(&tx, d0, base, (uint32_t)a, VRING_DESC_F_NEXT, (uint16_t)(d0 + 1));
            tdrv_desc(&tx, d0 + 1, base + a, (uint32_t)(len - a), 0, 0);
        } else {
            tdrv_desc(&tx, d0, base, (uint32_t)a, VRING_DESC_F_NEXT, (uint16_t)(d0 + 1));
            tdrv_desc(&tx, d0 + 1, base + a, (uint32_t)(b - a), VRING_DESC_F_NEXT,
                      (uint16_t)(d0 + 2));
            tdrv_desc(&tx, d0 + 2, base + b, (uint32_t)(len - b), 0, 0);
        }
        tdrv_kick(&tx, 1, (uint16_t)d0);
        ntx++;
    }
    /* let the I/O thread work through the requests (bounded wait) */
    for (unsigned i = 0; i < 200 && tdrv_used_idx(&tx) != ntx; i++)
        sleep_ms(1);
    vm_destroy(vm);
    return 0;
}
