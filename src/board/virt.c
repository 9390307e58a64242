/* Builds the virt machine: memory map and device creation. */
#include "board/virt.h"
#include "hw/pvpanic.h"
#include "hw/rtc.h"
#include "hw/syscon.h"
#include "hw/uart.h"
#include "hw/vmgenid.h"
#include "irq/clint.h"
#include "irq/plic.h"
#include "vmm/vm.h"
#include <stdio.h>
#include <stdlib.h>

int virt_board_create(struct vm *vm, char *err, size_t errlen)
{
    vm->rom = calloc(1, VIRT_MROM_SIZE);
    if (!vm->rom || bus_add_mem(&vm->bus, VIRT_MROM_BASE, VIRT_MROM_SIZE, vm->rom, 1) < 0) {
        snprintf(err, errlen, "cannot create the boot ROM");
        return -1;
    }
    struct plic *plic = plic_create(vm, VIRT_PLIC_BASE);
    vm->plic = plic;
    if (!plic || syscon_create(vm, VIRT_TEST_BASE) < 0 ||
        pvpanic_create(vm, VIRT_PVPANIC_BASE) < 0 ||
        rtc_create(vm, VIRT_RTC_BASE, plic_line(plic, VIRT_RTC_IRQ)) < 0 ||
        vmgenid_create(vm, VIRT_VMGENID_BASE, plic_line(plic, VIRT_VMGENID_IRQ)) < 0 ||
        !clint_create(vm, VIRT_CLINT_BASE) ||
        !uart_create(vm, VIRT_UART_BASE, plic_line(plic, VIRT_UART_IRQ))) {
        snprintf(err, errlen, "cannot create the virt board devices");
        return -1;
    }
    return 0;
}

int virt_virtio_slot(struct vm *vm, uint64_t *base, struct irq_line *irq, char *err, size_t errlen)
{
    if (vm->virtio_slots >= VIRT_VIRTIO_SLOTS) {
        snprintf(err, errlen, "too many virtio devices (at most %d)", VIRT_VIRTIO_SLOTS);
        return -1;
    }
    unsigned n = vm->virtio_slots++;
    *base = VIRT_VIRTIO_BASE + n * VIRT_VIRTIO_STRIDE;
    *irq = plic_line(vm->plic, VIRT_VIRTIO_IRQ + n);
    return 0;
}
