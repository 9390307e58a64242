/* Goldfish RTC (Android emulator goldfish RTC register layout):
 *   0x00 TIME_LOW (reading latches TIME_HIGH)  0x04 TIME_HIGH
 *   0x08 ALARM_LOW (writing arms)              0x0c ALARM_HIGH
 *   0x10 IRQ_ENABLED  0x14 CLEAR_ALARM  0x18 ALARM_STATUS  0x1c CLEAR_INTERRUPT
 * Time is the host's CLOCK_REALTIME plus an offset the guest may set. The
 * alarm is checked whenever the guest touches the device. */
#include "hw/rtc.h"
#include "vmm/vm.h"
#include "board/fdt.h"
#include "snap/snap.h"
#include <libfdt.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct rtc {
    struct vm *vm;
    struct irq_line irq;
    pthread_mutex_t lock;
    int64_t offset_ns;
    uint32_t time_high, alarm_high;
    uint64_t alarm;
    int alarm_armed, irq_enabled, irq_pending;
};

static uint64_t rtc_now(struct rtc *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (uint64_t)r->offset_ns;
}

static void rtc_check_alarm(struct rtc *r)
{
    if (r->alarm_armed && rtc_now(r) >= r->alarm) {
        r->alarm_armed = 0;
        r->irq_pending = 1;
    }
    irq_set(&r->irq, r->irq_pending && r->irq_enabled);
}

static int rtc_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
    struct rtc *r = dev;
    if (size != 4) return -1;
    uint32_t v = 0;
    pthread_mutex_lock(&r->lock);
    switch (off) {
    case 0x00: {
        uint64_t t = rtc_now(r);
        r->time_high = (uint32_t)(t >> 32);
        v = (uint32_t)t;
        break;
    }
    case 0x04: v = r->time_high; break;
    case 0x08: v = (uint32_t)r->alarm; break;
    case 0x0c: v = (uint32_t)(r->alarm >> 32); break;
    case 0x10: v = (uint32_t)r->irq_enabled; break;
    case 0x18: v = (uint32_t)r->alarm_armed; break;
    }
    rtc_check_alarm(r);
    pthread_mutex_unlock(&r->lock);
    *val = v;
    return 0;
}

static int rtc_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
    struct rtc *r = dev;
    if (size != 4) return -1;
    uint32_t v = (uint32_t)val;
    pthread_mutex_lock(&r->lock);
    switch (off) {
    case 0x00: { /* set time: low word completes the write */
        uint64_t want = ((uint64_t)r->time_high << 32) | v;
        r->offset_ns += (int64_t)(want - rtc_now(r));
        break;
    }
    case 0x04: r->time_high = v; break;
    case 0x08:
        r->alarm = ((uint64_t)r->alarm_high << 32) | v;
        r->alarm_armed = 1;
        break;
    case 0x0c: r->alarm_high = v; break;
    case 0x10: r->irq_enabled = v & 1; break;
    case 0x14: r->alarm_armed = 0; break;
    case 0x1c: r->irq_pending = 0; break;
    }
    rtc_check_alarm(r);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void rtc_destroy(void *dev)
{
    struct rtc *r = dev;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static void rtc_reset(void *dev)
{
    struct rtc *r = dev;
    pthread_mutex_lock(&r->lock);
    r->alarm_armed = r->irq_enabled = r->irq_pending = 0;
    irq_set(&r->irq, 0);
    pthread_mutex_unlock(&r->lock);
}

static int rtc_fdt(void *dev, struct fdt_ctx *c, uint64_t base, uint64_t size)
{
    struct rtc *r = dev;
    if (fdt_begin_dev(c, "rtc", base, size) < 0 ||
        fdt_property_string(c->fdt, "compatible", "google,goldfish-rtc") < 0 ||
        (r->irq.set && fdt_irq(c, r->irq.num) < 0))
        return -1;
    return fdt_end_node(c->fdt);
}

static void rtc_save(void *dev, struct snap_w *w)
{
    struct rtc *r = dev;
    pthread_mutex_lock(&r->lock);
    snap_u64(w, (uint64_t)r->offset_ns);
    snap_u32(w, r->time_high);
    snap_u32(w, r->alarm_high);
    snap_u64(w, r->alarm);
    snap_u32(w, (uint32_t)(r->alarm_armed | r->irq_enabled << 1 | r->irq_pending << 2));
    pthread_mutex_unlock(&r->lock);
}

static int rtc_load(void *dev, struct snap_r *s)
{
    struct rtc *r = dev;
    pthread_mutex_lock(&r->lock);
    r->offset_ns = (int64_t)snap_get_u64(s);
    r->time_high = snap_get_u32(s);
    r->alarm_high = snap_get_u32(s);
    r->alarm = snap_get_u64(s);
    uint32_t f = snap_get_u32(s);
    r->alarm_armed = f & 1;
    r->irq_enabled = (f >> 1) & 1;
    r->irq_pending = (f >> 2) & 1;
    pthread_mutex_unlock(&r->lock);
    return s->err[0] ? -1 : 0;
}

static const struct dev_ops rtc_ops = {
    .name = "goldfish-rtc",
    .save = rtc_save,
    .load = rtc_load,
    .fdt = rtc_fdt,
    .read = rtc_read,
    .write = rtc_write,
    .reset = rtc_reset,
    .destroy = rtc_destroy,
};

int rtc_create(struct vm *vm, uint64_t base, struct irq_line irq)
{
    struct rtc *r = calloc(1, sizeof(*r));
    if (!r) return -1;
    r->vm = vm;
    r->irq = irq;
    pthread_mutex_init(&r->lock, NULL);
    if (bus_add_mmio(&vm->bus, base, 0x1000, &rtc_ops, r) < 0) {
        rtc_destroy(r);
        return -1;
    }
    return 0;
}
