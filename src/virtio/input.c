/* virtio-input (virtio 1.2 section 5.8) as a power button: a keyboard with
 * one key, KEY_POWER, that vmon presses to ask the guest to shut down (the
 * way a host's power button reaches systemd-logind, or busybox acpid, in a
 * stock guest). Queue 0 takes event buffers from the driver, queue 1 the
 * driver's status events (LEDs), which a button has none of. */
#include "virtio/devices.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_QUEUE_MAX 64

/* struct virtio_input_config: select, subsel, size, 5 reserved, u[128] */
#define CFG_SELECT 0
#define CFG_SUBSEL 1
#define CFG_SIZE   2
#define CFG_U      8
#define CFG_BYTES  (CFG_U + 128)

enum {
    SEL_UNSET = 0x00,
    SEL_ID_NAME = 0x01,
    SEL_ID_SERIAL = 0x02,
    SEL_ID_DEVIDS = 0x03,
    SEL_PROP_BITS = 0x10,
    SEL_EV_BITS = 0x11,
    SEL_ABS_INFO = 0x12,
};

/* Linux input event codes (include/uapi/linux/input-event-codes.h). */
#define EV_SYN      0x00
#define EV_KEY      0x01
#define SYN_REPORT  0
#define KEY_POWER   116
#define BUS_VIRTUAL 0x06

struct input {
    pthread_mutex_t lock; /* config select and event injection */
    uint8_t config[CFG_BYTES];
    struct vq_req req;
};

/* Fill the config union for the driver's (select, subsel). */
static void input_select(struct input *in)
{
    uint8_t sel = in->config[CFG_SELECT], sub = in->config[CFG_SUBSEL];
    uint8_t *u = in->config + CFG_U;
    unsigned size = 0;
    memset(u, 0, 128);
    if (sel == SEL_ID_NAME) {
        static const char name[] = "vmon power button";
        memcpy(u, name, sizeof(name) - 1);
        size = sizeof(name) - 1;
    } else if (sel == SEL_ID_SERIAL) {
        memcpy(u, "0", 1);
        size = 1;
    } else if (sel == SEL_ID_DEVIDS) {
        uint16_t ids[4] = {BUS_VIRTUAL, 0x1af4 /* virtio */, 0x0001, 0x0001};
        memcpy(u, ids, sizeof(ids)); /* little-endian host */
        size = sizeof(ids);
    } else if (sel == SEL_EV_BITS && sub == EV_KEY) {
        u[KEY_POWER / 8] |= 1u << (KEY_POWER % 8);
        size = KEY_POWER / 8 + 1;
    }
    in->config[CFG_SIZE] = (uint8_t)size;
}

static void input_config_write(struct virtio_dev *d, unsigned off, unsigned size, uint64_t val)
{
    struct input *in = d->priv;
    pthread_mutex_lock(&in->lock);
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        if (o == CFG_SELECT || o == CFG_SUBSEL) in->config[o] = (uint8_t)(val >> (8 * i));
    }
    input_select(in);
    pthread_mutex_unlock(&in->lock);
}

/* Status events from the driver: taken and dropped. */
static void input_notify(struct virtio_dev *d, unsigned q)
{
    struct input *in = d->priv;
    if (q != 1) return; /* event buffers wait for an event */
    pthread_mutex_lock(&in->lock);
    while (vq_pop(d, 1, &in->req) > 0)
        vq_push(d, 1, &in->req, 0);
    pthread_mutex_unlock(&in->lock);
    vq_notify(d, 1);
}

/* One event into the next buffer the driver posted; 0 or -1 if none. */
static int put_event(struct virtio_dev *d, struct input *in, uint16_t type, uint16_t code,
                     uint32_t value)
{
    uint8_t ev[8];
    memcpy(ev, &type, 2);
    memcpy(ev + 2, &code, 2);
    memcpy(ev + 4, &value, 4);
    if (vq_pop(d, 0, &in->req) <= 0) return -1;
    size_t n = vq_req_write(&in->req, 0, ev, sizeof(ev));
    vq_push(d, 0, &in->req, (uint32_t)n);
    return n == sizeof(ev) ? 0 : -1;
}

static int input_press(struct virtio_dev *d)
{
    struct input *in = d->priv;
    if (!vq_live(d, 0)) return -1;
    pthread_mutex_lock(&in->lock);
    int r = put_event(d, in, EV_KEY, KEY_POWER, 1);
    if (!r) r = put_event(d, in, EV_SYN, SYN_REPORT, 0);
    if (!r) r = put_event(d, in, EV_KEY, KEY_POWER, 0);
    if (!r) r = put_event(d, in, EV_SYN, SYN_REPORT, 0);
    pthread_mutex_unlock(&in->lock);
    vq_notify(d, 0);
    return r;
}

static void input_reset(struct virtio_dev *d)
{
    struct input *in = d->priv;
    pthread_mutex_lock(&in->lock);
    memset(in->config, 0, sizeof(in->config));
    pthread_mutex_unlock(&in->lock);
}

static void input_destroy(struct virtio_dev *d)
{
    struct input *in = d->priv;
    pthread_mutex_destroy(&in->lock);
    free(in);
}

static const struct virtio_dev_ops input_ops = {
    .name = "virtio-input",
    .notify = input_notify,
    .config_write = input_config_write,
    .reset = input_reset,
    .destroy = input_destroy,
};

int virtio_power_key_create(struct vm *vm, const struct virtio_slot *slot, char *err, size_t errlen)
{
    struct input *in = calloc(1, sizeof(*in));
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&in->lock, NULL);
    struct virtio_dev *d =
        virtio_mmio_create(vm, slot->base, slot->irq, VIRTIO_ID_INPUT, &input_ops, in,
                           VIRTIO_F_EVENT_IDX, 2, INPUT_QUEUE_MAX, in->config, CFG_BYTES);
    if (!d) {
        pthread_mutex_destroy(&in->lock);
        free(in);
        snprintf(err, errlen, "cannot create virtio-input");
        return -1;
    }
    /* The signal thread may press it as soon as it is published. */
    vm->power_key_press = input_press;
    atomic_store_explicit(&vm->power_key, d, memory_order_release);
    return 0;
}
