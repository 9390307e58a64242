#ifndef VMON_VMGENID_H
#define VMON_VMGENID_H
#include <stdint.h>
#include "irq/irq.h"
struct vm;
/* Virtual machine generation ID ("microsoft,vmgenid" in the device tree,
 * the binding Linux reads since 6.10; ACPI's VMGenID elsewhere): 16 random
 * bytes the guest can read at base, replaced by new ones every time the VM
 * is restored from a snapshot (so every clone of one snapshot differs),
 * with an interrupt that stays raised until the guest reads the new value.
 * A guest reseeds its RNG and renews its identity on the change. */
int vmgenid_create(struct vm *vm, uint64_t base, struct irq_line irq);
#define VMGENID_SIZE 0x1000
#endif
