/* A VM's virtio devices from their typed settings (vmm/devcfg.h): for each
 * device the host backend is opened (disk image, network, shared
 * directory, console file or socket), the board assigns the next
 * virtio-mmio slot (base address and interrupt line) and the device is
 * made on them. Used by `vmon run` (boot.c) and by tests. */
#ifndef VMON_DEVICES_H
#define VMON_DEVICES_H
#include "vmm/devcfg.h"
#include <stddef.h>
struct vm;

/* 0, or -1 with the message in err (as the option's own, without its name). */
int vmdev_add(struct vm *vm, const struct dev_cfg *cfg, char *err, size_t errlen);
/* Parse an option string of that kind (devcfg_parse), then vmdev_add. */
int vmdev_add_spec(struct vm *vm, enum devcfg_kind kind, const char *spec, char *err,
                   size_t errlen);
/* The virtio-input power button SIGTERM presses. */
int vmdev_add_power_key(struct vm *vm, char *err, size_t errlen);
#endif
