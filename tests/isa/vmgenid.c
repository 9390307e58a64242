/* The generation ID device (vmon's "microsoft,vmgenid" at 0x103000): 16
 * bytes that are not all zero and read the same every time while the VM
 * runs on. For 3 s of guest time the program prints the ID every
 * 50 ms ("genid HEX"); the snapshot tests save it in the middle and check
 * that each restore prints a new ID and carries on to the end. With a
 * virtio-net device, each line also shows the MAC address in its config
 * space (a clone restored with --net ...,mac=M shows M). vmon only
 * (QEMU's virt has no such device; run.sh skips it there). */
#include "common.h"

#define VMGENID_BASE 0x103000ul

/* The first virtio-net device's config space MAC as one number, or 0. */
static u64 net_mac(void)
{
    u64 b = virtio_find(1), mac = 0;
    for (unsigned i = 0; b && i < 6; i++)
        mac = mac << 8 | *(volatile u8 *)(b + 0x100 + i);
    return mac;
}

static void read_id(u64 id[2])
{
    id[0] = mmio_read64(VMGENID_BASE);
    id[1] = mmio_read64(VMGENID_BASE + 8);
}

int main(void)
{
    u64 first[2], id[2];
    read_id(first);
    CHECK("the ID is not all zero", (first[0] | first[1]) != 0, 1);
    u64 start = rdmtime(), last = 0;
    unsigned changes = 0;
    for (u64 now = start; now - start < 30000000; now = rdmtime()) { /* 3 s at 10 MHz */
        if (now - last < 500000) continue;
        last = now;
        read_id(id);
        if (id[0] != first[0] || id[1] != first[1]) changes++;
        printf_("genid %lx%lx mac %lx\n", id[0], id[1], net_mac());
    }
    printf_("genid changes %u\n", changes);
    read_id(id);
    u64 again[2];
    read_id(again);
    CHECK("the ID is stable", again[0] == id[0] && again[1] == id[1], 1);
    return test_done();
}
