/* libFuzzer target: the virtqueue core and virtio-mmio transport. The input
 * becomes a descriptor table, an indirect table, the available ring and a
 * series of register writes, given to a live virtio-rng device; the
 * sanitizers catch any access outside the guest's memory or the device's
 * state. Build with `make fuzz`; run build/fuzz/fuzz_virtq [corpus]. */
#include "vmm/devices.h"
#include "virtio_driver.h"
#include "virtio/devices.h"
#include <stdio.h>
#include <stdlib.h>

#define RAM    (1u << 20)
#define RINGS  (VM_RAM_BASE + 0x10000)
#define ITABLE (VM_RAM_BASE + 0x20000)
#define QN     16

struct fuzz_state {
    struct vm *vm;
};

static struct vm *fuzz_vm(void)
{
    struct vm_config cfg = {.ram_size = RAM, .ncpus = 1, .hyp_sbi = 1};
    char err[256];
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_RNG, "", err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
    return vm;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One VM for the whole run would be faster but would carry state
     * between inputs; a fresh one keeps every input reproducible. */
    struct vm *vm = fuzz_vm();
    struct tdrv t;
    uint64_t feats = VIRTIO_F_VERSION_1;
    if (size > 0 && (data[0] & 1)) feats |= VIRTIO_F_INDIRECT_DESC;
    if (size > 0 && (data[0] & 2)) feats |= VIRTIO_F_EVENT_IDX;
    tdrv_init(&t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, feats);
    size_t off = 1;
    /* descriptor table: addresses are made relative to RAM most of the
     * time so the chains reach the interesting checks */
    for (unsigned i = 0; i < QN && off + 16 <= size; i++, off += 16) {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
        memcpy(&addr, data + off, 8);
        memcpy(&len, data + off + 8, 4);
        memcpy(&flags, data + off + 12, 2);
        memcpy(&next, data + off + 14, 2);
        if (!(addr >> 63)) addr = VM_RAM_BASE + (addr % (RAM + 64));
        if (!(len >> 31)) len %= 8192;
        tdrv_desc(&t, i, addr, len, flags, next);
    }
    /* indirect table area */
    size_t n = size > off ? size - off : 0;
    if (n > 512) n = 512;
    if (n) memcpy(tdrv_ram(&t, ITABLE), data + off, n);
    off += n;
    /* kicks: each byte pair is a head index or a register poke */
    while (off + 2 <= size) {
        uint8_t op = data[off], arg = data[off + 1];
        off += 2;
        switch (op & 3) {
        case 0: tdrv_kick(&t, 0, arg); break;
        case 1: tdrv_wr(&t, TV_QUEUE_NOTIFY, arg); break;
        case 2: tdrv_wr(&t, (uint64_t)(arg & 0xfc), (uint32_t)op << 8 | arg); break;
        default: tdrv_wr(&t, TV_ISR_ACK, arg); break;
        }
    }
    vm_destroy(vm);
    return 0;
}
