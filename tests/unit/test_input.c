/* The virtio-input power button driven as Linux's virtio_input driver does:
 * config selects (name, device ids, event bits), event buffers posted on
 * queue 0, and a press that arrives as KEY_POWER down, SYN, up, SYN. A
 * press without a driver, or with no buffers, reports that the guest could
 * not be asked. */
#include "vmm/devices.h"
#include "check.h"
#include "virtio/devices.h"
#include "virtio_driver.h"
#include <stdlib.h>

static struct check_ctx c;

static uint8_t cfg_rd(struct vm *vm, uint64_t base, unsigned off)
{
    uint64_t v = 0;
    bus_read(&vm->bus, base + 0x100 + off, 1, &v);
    return (uint8_t)v;
}

static void cfg_select(struct vm *vm, uint64_t base, uint8_t sel, uint8_t sub)
{
    bus_write(&vm->bus, base + 0x100, 1, sel);
    bus_write(&vm->bus, base + 0x101, 1, sub);
}

int main(void)
{
    char err[256];
    struct vm_config cfg = {.ram_size = 16 << 20, .ncpus = 1};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    CHECK(&c, vm && virt_board_create(vm, err, sizeof(err)) == 0, "vm: %s", err);
    if (!vm) return check_report(&c, "test_input");
    CHECK_EQ(&c, vmdev_add_power_key(vm, err, sizeof(err)), 0);
    uint64_t base = VIRT_VIRTIO_BASE;
    struct tdrv t = {.vm = vm, .base = base};
    CHECK_EQ(&c, tdrv_rd(&t, TV_DEVICE_ID), 18);
    CHECK_EQ(&c, vm_power_button(vm), -1); /* no driver yet */

    /* Config: name, ids, EV_KEY bits with KEY_POWER only, nothing else. */
    cfg_select(vm, base, 0x01, 0);
    unsigned n = cfg_rd(vm, base, 2);
    char name[129] = {0};
    for (unsigned i = 0; i < n && i < 128; i++)
        name[i] = (char)cfg_rd(vm, base, 8 + i);
    CHECK(&c, !strcmp(name, "vmon power button"), "name '%s'", name);
    cfg_select(vm, base, 0x03, 0);
    CHECK_EQ(&c, cfg_rd(vm, base, 2), 8);
    CHECK_EQ(&c, cfg_rd(vm, base, 8), 0x06); /* BUS_VIRTUAL */
    cfg_select(vm, base, 0x11, 1);           /* EV_BITS, EV_KEY */
    CHECK_EQ(&c, cfg_rd(vm, base, 2), 116 / 8 + 1);
    CHECK_EQ(&c, cfg_rd(vm, base, 8 + 116 / 8), 1u << (116 % 8));
    CHECK_EQ(&c, cfg_rd(vm, base, 8 + 1), 0);
    cfg_select(vm, base, 0x11, 2); /* EV_REL: none */
    CHECK_EQ(&c, cfg_rd(vm, base, 2), 0);
    cfg_select(vm, base, 0x12, 0); /* ABS_INFO: none */
    CHECK_EQ(&c, cfg_rd(vm, base, 2), 0);
    cfg_select(vm, base, 0x00, 0);
    CHECK_EQ(&c, cfg_rd(vm, base, 2), 0);
    /* writes to the read-only part change nothing */
    bus_write(&vm->bus, base + 0x100 + 2, 1, 77);
    CHECK_EQ(&c, cfg_rd(vm, base, 2), 0);

    /* The driver: queue 0 with 8 event buffers of 8 bytes. */
    uint32_t st = tdrv_init(&t, vm, base, 0, 8, VM_RAM_BASE + 0x10000, 1ull << 32);
    CHECK(&c, st & VIRTIO_STATUS_DRIVER_OK, "status 0x%x", st);
    CHECK_EQ(&c, vm_power_button(vm), -1); /* live queue, but no buffers */
    uint64_t bufs = VM_RAM_BASE + 0x20000;
    for (unsigned i = 0; i < 8; i++) {
        tdrv_desc(&t, i, bufs + 8 * i, 8, VRING_DESC_F_WRITE, 0);
        tdrv_kick(&t, 0, (uint16_t)i);
    }
    uint16_t before = tdrv_used_idx(&t);
    CHECK_EQ(&c, vm_power_button(vm), 0);
    CHECK_EQ(&c, (uint16_t)(tdrv_used_idx(&t) - before), 4);
    static const uint16_t want[4][2] = {{1, 116}, {0, 0}, {1, 116}, {0, 0}};
    static const uint32_t wantv[4] = {1, 0, 0, 0};
    for (unsigned i = 0; i < 4; i++) {
        uint32_t id, len;
        tdrv_used_elem(&t, before + i, &id, &len);
        CHECK_EQ(&c, len, 8);
        uint8_t *e = tdrv_ram(&t, bufs + 8 * id);
        uint16_t type, code;
        uint32_t value;
        memcpy(&type, e, 2);
        memcpy(&code, e + 2, 2);
        memcpy(&value, e + 4, 4);
        CHECK(&c, type == want[i][0] && code == want[i][1] && value == wantv[i],
              "event %u: type %u code %u value %u", i, type, code, value);
    }
    CHECK(&c, tdrv_rd(&t, TV_ISR) & 1, "the driver is interrupted");
    /* 4 buffers left: one more press fits, a third does not */
    CHECK_EQ(&c, vm_power_button(vm), 0);
    CHECK_EQ(&c, vm_power_button(vm), -1);
    vm_destroy(vm);
    return check_report(&c, "test_input");
}
