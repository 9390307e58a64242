/* A VM's virtio devices: backend, slot, device. See devices.h. */
#include "vmm/devices.h"
#include "vmm/vm.h"
#include "backend/block.h"
#include "backend/chardev.h"
#include "backend/net.h"
#include "board/virt.h"
#include "virtio/9p.h"
#include "virtio/devices.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int take_slot(struct vm *vm, struct virtio_slot *s, char *err, size_t errlen)
{
    return virt_virtio_slot(vm, &s->base, &s->irq, err, errlen);
}

static int add_disk(struct vm *vm, const struct disk_cfg *c, char *err, size_t errlen)
{
    struct blk *be = blk_open(c->file, c->fmt, c->ro ? BLK_RDONLY : 0, err, errlen);
    struct virtio_slot s;
    if (!be) return -1;
    if (take_slot(vm, &s, err, errlen) < 0) {
        blk_close(be);
        return -1;
    }
    return virtio_blk_create(vm, &s, c, be, err, errlen);
}

static int add_net(struct vm *vm, const struct net_cfg *c, char *err, size_t errlen)
{
    struct net_backend *be = c->tap ? net_tap_open(c->ifname, err, errlen)
                                    : net_slirp_open(c->fwd, c->nfwd, err, errlen);
    struct virtio_slot s;
    if (!be) return -1;
    if (take_slot(vm, &s, err, errlen) < 0) {
        be->ops->destroy(be);
        return -1;
    }
    uint8_t mac[6];
    if (c->has_mac)
        memcpy(mac, c->mac, 6);
    else
        devcfg_default_mac((unsigned)((s.base - VIRT_VIRTIO_BASE) / VIRT_VIRTIO_STRIDE), mac);
    return virtio_net_create(vm, &s, mac, be, err, errlen);
}

static int add_share(struct vm *vm, const struct share_cfg *c, char *err, size_t errlen)
{
    struct p9_server *srv = p9_server_new(c->dir, c->ro, err, errlen);
    struct virtio_slot s;
    if (!srv) return -1;
    if (take_slot(vm, &s, err, errlen) < 0) {
        p9_server_free(srv);
        return -1;
    }
    return virtio_9p_create(vm, &s, c->tag, srv, err, errlen);
}

static int add_vconsole(struct vm *vm, const struct vconsole_cfg *c, char *err, size_t errlen)
{
    struct chardev be;
    int r = c->socket ? chardev_open_socket(&be, c->path, err, errlen)
                      : chardev_open_file(&be, c->path, err, errlen);
    struct virtio_slot s;
    if (r < 0) return -1;
    /* A socket and its lock file are removed at exit: the sandbox lets it. */
    if ((be.dir_fd >= 0 && vm_use_dir(vm, be.dir_fd, VM_DIR_REMOVE, err, errlen) < 0) ||
        take_slot(vm, &s, err, errlen) < 0) {
        chardev_close(&be);
        return -1;
    }
    return virtio_console_create(vm, &s, &be, err, errlen);
}

int vmdev_add(struct vm *vm, const struct dev_cfg *cfg, char *err, size_t errlen)
{
    struct virtio_slot s;
    switch (cfg->kind) {
    case DEVCFG_DISK: return add_disk(vm, &cfg->disk, err, errlen);
    case DEVCFG_NET: return add_net(vm, &cfg->net, err, errlen);
    case DEVCFG_SHARE: return add_share(vm, &cfg->share, err, errlen);
    case DEVCFG_VCONSOLE: return add_vconsole(vm, &cfg->vconsole, err, errlen);
    case DEVCFG_RNG:
        return take_slot(vm, &s, err, errlen) < 0 ? -1 : virtio_rng_create(vm, &s, err, errlen);
    case DEVCFG_BALLOON:
        return take_slot(vm, &s, err, errlen) < 0 ? -1 : virtio_balloon_create(vm, &s, err, errlen);
    case DEVCFG_NKINDS: break;
    }
    snprintf(err, errlen, "unknown kind of device");
    return -1;
}

int vmdev_add_spec(struct vm *vm, enum devcfg_kind kind, const char *spec, char *err, size_t errlen)
{
    struct dev_cfg *c = malloc(sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int r = devcfg_parse(kind, spec, c, err, errlen);
    if (r == 0) r = vmdev_add(vm, c, err, errlen);
    free(c);
    return r;
}

int vmdev_add_power_key(struct vm *vm, char *err, size_t errlen)
{
    struct virtio_slot s;
    if (take_slot(vm, &s, err, errlen) < 0) return -1;
    return virtio_power_key_create(vm, &s, err, errlen);
}
