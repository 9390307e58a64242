/* The virt board: QEMU virt-compatible memory map (see DESIGN.md). */
#ifndef VMON_VIRT_H
#define VMON_VIRT_H
#include <stddef.h>
#include <stdint.h>
struct vm;

#define VIRT_MROM_BASE     0x1000ull
#define VIRT_MROM_SIZE     0xf000ull
#define VIRT_TEST_BASE     0x100000ull
#define VIRT_RTC_BASE      0x101000ull
#define VIRT_PVPANIC_BASE  0x102000ull
#define VIRT_VMGENID_BASE  0x103000ull
#define VIRT_CLINT_BASE    0x2000000ull
#define VIRT_PLIC_BASE     0xc000000ull
#define VIRT_UART_BASE     0x10000000ull
#define VIRT_VIRTIO_BASE   0x10001000ull
#define VIRT_UART_IRQ      10
#define VIRT_RTC_IRQ       11
#define VIRT_VMGENID_IRQ   12
#define VIRT_VIRTIO_IRQ    1 /* slots use 1..8 */
#define VIRT_VIRTIO_SLOTS  8
#define VIRT_VIRTIO_STRIDE 0x1000ull

#include "irq/irq.h"
int virt_board_create(struct vm *vm, char *err, size_t errlen);
/* Claim the next free virtio-mmio slot: its base address and interrupt. */
int virt_virtio_slot(struct vm *vm, uint64_t *base, struct irq_line *irq, char *err, size_t errlen);
#endif
