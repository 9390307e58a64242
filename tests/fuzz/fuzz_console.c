/* libFuzzer target: virtio-console. The input picks the negotiated
 * features, receive buffers (sizes from the input) and transmit chains of
 * one to three descriptors whose addresses and lengths come from the input
 * (some outside RAM, some device-writable where they must not be). Output
 * goes to /dev/null. Build with `make fuzz`; run build/fuzz/fuzz_console. */
#include "vmm/devices.h"
#include "virtio_driver.h"
#include "virtio/devices.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RAM    (4u << 20)
#define RINGS0 (VM_RAM_BASE + 0x10000)
#define RINGS1 (VM_RAM_BASE + 0x20000)
#define BUFS   (VM_RAM_BASE + 0x100000)
#define QN     16

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
        vmdev_add_spec(vm, DEVCFG_VCONSOLE, "/dev/null", err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
    uint64_t want = VIRTIO_F_VERSION_1;
    if (data[0] & 1) want |= VIRTIO_F_INDIRECT_DESC;
    if (data[0] & 2) want |= VIRTIO_F_EVENT_IDX;
    if (data[0] & 4) want |= 1ull << 0; /* VIRTIO_CONSOLE_F_SIZE */
    struct tdrv rx, tx;
    tdrv_negotiate(vm, VIRT_VIRTIO_BASE, want);
    tdrv_queue(&rx, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS0);
    tdrv_queue(&tx, vm, VIRT_VIRTIO_BASE, 1, QN, RINGS1);
    tdrv_driver_ok(vm, VIRT_VIRTIO_BASE);

    size_t off = 2;
    for (unsigned i = 0; i < (data[1] & 7u) && off + 2 <= size; i++, off += 2) {
        tdrv_desc(&rx, i, BUFS + 0x1000ull * i, rd16le(data + off) & 0x1fff, VRING_DESC_F_WRITE, 0);
        tdrv_kick(&rx, 0, (uint16_t)i);
    }
    /* transmit: [n:1] then n descriptors of [addr:2][len:2][flags:1] */
    unsigned ntx = 0, d = 0;
    while (off + 1 <= size && d + 3 <= QN) {
        unsigned n = 1 + data[off++] % 3, head = d;
        for (unsigned k = 0; k < n && off + 5 <= size; k++, off += 5) {
            uint64_t addr = BUFS + 0x10000ull + 16ull * rd16le(data + off);
            if (data[off + 4] & 0x80) addr = 0x1000; /* outside RAM */
            uint16_t flags = (uint16_t)(data[off + 4] & 6) | (k + 1 < n ? VRING_DESC_F_NEXT : 0);
            tdrv_desc(&tx, d, addr, rd16le(data + off + 2), flags, (uint16_t)(d + 1));
            d++;
        }
        if (d == head) break;
        tdrv_kick(&tx, 1, (uint16_t)head);
        ntx++;
    }
    for (unsigned i = 0; i < 100 && tdrv_used_idx(&tx) != ntx; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    vm_destroy(vm);
    return 0;
}
