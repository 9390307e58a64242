/* 16550A UART (PC16550D data sheet register map): 8 registers, byte wide,
 * DLAB-selected divisor latch, 16-byte receive FIFO, interrupt
 * identification for "received data available" and "THR empty". */
#include "hw/uart.h"
#include "vmm/vm.h"
#include "board/fdt.h"
#include "snap/snap.h"
#include <libfdt.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UART_FIFO 16
#define IER_RDI   0x01
#define IER_THRI  0x02
#define LSR_DR    0x01
#define LSR_BI    0x10
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define LCR_DLAB  0x80
#define IIR_NONE  0x01
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_RLSI  0x06
#define IER_RLSI  0x04
#define IIR_FIFO  0xc0

struct uart16550 {
    struct vm *vm;
    struct irq_line irq;
    pthread_mutex_t lock; /* vCPU threads and the console thread */
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    int thr_ipending; /* THR-empty interrupt pending until IIR read or THR write */
    uint8_t rx[UART_FIFO];
    unsigned rx_head, rx_count;
    int level;
    int brk; /* a break was received: LSR.BI until LSR is read */
};

static uint8_t uart_iir(struct uart16550 *u)
{
    uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;
    if ((u->ier & IER_RLSI) && u->brk) return IIR_RLSI | fifo;
    if ((u->ier & IER_RDI) && u->rx_count) return IIR_RDI | fifo;
    if ((u->ier & IER_THRI) && u->thr_ipending) return IIR_THRI | fifo;
    return IIR_NONE | fifo;
}

static void uart_update_irq(struct uart16550 *u)
{
    int level = !(uart_iir(u) & IIR_NONE);
    if (level != u->level) {
        u->level = level;
        irq_set(&u->irq, level);
    }
}

static void uart_output(struct uart16550 *u, uint8_t c)
{
    int fd = u->vm->console_out_fd;
    if (fd < 0) return;
    ssize_t r;
    do {
        r = write(fd, &c, 1);
    } while (r < 0 && errno == EINTR);
}

static int uart_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
    struct uart16550 *u = dev;
    if (size != 1 && size != 4) return -1;
    uint8_t v = 0;
    pthread_mutex_lock(&u->lock);
    switch (off) {
    case 0:
        if (u->lcr & LCR_DLAB) {
            v = u->dll;
        } else if (u->rx_count) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1) % UART_FIFO;
            u->rx_count--;
        }
        break;
    case 1: v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier; break;
    case 2:
        v = uart_iir(u);
        if ((v & 0x0f) == IIR_THRI) u->thr_ipending = 0;
        break;
    case 3: v = u->lcr; break;
    case 4: v = u->mcr; break;
    case 5:
        v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | (u->brk ? LSR_BI : 0);
        u->brk = 0;
        break;
    case 6: v = 0xb0; break; /* DCD, DSR, CTS asserted */
    case 7: v = u->scr; break;
    default: v = 0;
    }
    uart_update_irq(u);
    pthread_mutex_unlock(&u->lock);
    *val = v;
    return 0;
}

static int uart_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
    struct uart16550 *u = dev;
    if (size != 1 && size != 4) return -1;
    uint8_t v = (uint8_t)val;
    pthread_mutex_lock(&u->lock);
    switch (off) {
    case 0:
        if (u->lcr & LCR_DLAB) {
            u->dll = v;
        } else {
            uart_output(u, v);
            /* The transmitter is infinitely fast: THR is empty again at once. */
            u->thr_ipending = 1;
        }
        break;
    case 1:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
        } else {
            uint8_t old = u->ier;
            u->ier = v & 0x0f;
            if (!(old & IER_THRI) && (u->ier & IER_THRI)) u->thr_ipending = 1;
        }
        break;
    case 2:
        u->fcr = v & 0xc9;
        if (v & 0x02) u->rx_count = u->rx_head = 0;
        break;
    case 3: u->lcr = v; break;
    case 4: u->mcr = v & 0x1f; break;
    case 7: u->scr = v; break;
    }
    uart_update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return 0;
}

unsigned uart_rx_room(struct uart16550 *u)
{
    pthread_mutex_lock(&u->lock);
    unsigned room = UART_FIFO - u->rx_count;
    pthread_mutex_unlock(&u->lock);
    return room;
}

unsigned uart_receive(struct uart16550 *u, const uint8_t *buf, unsigned len)
{
    unsigned n = 0;
    pthread_mutex_lock(&u->lock);
    while (n < len && u->rx_count < UART_FIFO) {
        u->rx[(u->rx_head + u->rx_count) % UART_FIFO] = buf[n++];
        u->rx_count++;
    }
    uart_update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return n;
}

void uart_send_break(struct uart16550 *u)
{
    pthread_mutex_lock(&u->lock);
    /* A break arrives as a NUL character with LSR.BI set (16550 datasheet,
     * line status register); Linux's 8250 driver turns it into a SysRq. */
    if (u->rx_count < UART_FIFO) {
        u->rx[(u->rx_head + u->rx_count) % UART_FIFO] = 0;
        u->rx_count++;
    }
    u->brk = 1;
    uart_update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

static void uart_reset(void *dev)
{
    struct uart16550 *u = dev;
    pthread_mutex_lock(&u->lock);
    u->ier = u->lcr = u->mcr = u->scr = u->dll = u->dlm = u->fcr = 0;
    u->thr_ipending = 0;
    u->rx_head = u->rx_count = 0;
    u->brk = 0;
    uart_update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

static void uart_destroy(void *dev)
{
    struct uart16550 *u = dev;
    pthread_mutex_destroy(&u->lock);
    free(u);
}

static int uart_fdt(void *dev, struct fdt_ctx *c, uint64_t base, uint64_t size)
{
    struct uart16550 *u = dev;
    if (fdt_begin_dev(c, "serial", base, size) < 0 ||
        fdt_property_string(c->fdt, "compatible", "ns16550a") < 0 ||
        fdt_property_u32(c->fdt, "clock-frequency", 3686400) < 0 ||
        (u->irq.set && fdt_irq(c, u->irq.num) < 0))
        return -1;
    return fdt_end_node(c->fdt);
}

static void uart_save(void *dev, struct snap_w *w)
{
    struct uart16550 *u = dev;
    pthread_mutex_lock(&u->lock);
    const uint8_t regs[] = {u->ier, u->lcr, u->mcr, u->scr, u->dll, u->dlm, u->fcr};
    snap_put(w, regs, sizeof(regs));
    snap_u32(w, (uint32_t)u->thr_ipending);
    snap_u32(w, (uint32_t)u->brk);
    snap_u32(w, (uint32_t)u->level);
    snap_u32(w, u->rx_count);
    for (unsigned i = 0; i < u->rx_count; i++)
        snap_u8(w, u->rx[(u->rx_head + i) % UART_FIFO]);
    pthread_mutex_unlock(&u->lock);
}

static int uart_load(void *dev, struct snap_r *r)
{
    struct uart16550 *u = dev;
    uint8_t regs[7];
    snap_get(r, regs, sizeof(regs));
    int thr = snap_get_u32(r) != 0, brk = snap_get_u32(r) != 0, level = snap_get_u32(r) != 0;
    uint32_t n = snap_get_u32(r);
    if (n > UART_FIFO) return snap_fail(r, "%u bytes in a %u-byte FIFO", n, UART_FIFO);
    pthread_mutex_lock(&u->lock);
    u->ier = regs[0];
    u->lcr = regs[1];
    u->mcr = regs[2];
    u->scr = regs[3];
    u->dll = regs[4];
    u->dlm = regs[5];
    u->fcr = regs[6];
    u->thr_ipending = thr;
    u->brk = brk;
    u->level = level;
    u->rx_head = 0;
    u->rx_count = n;
    snap_get(r, u->rx, n);
    pthread_mutex_unlock(&u->lock);
    return r->err[0] ? -1 : 0;
}

static const struct dev_ops uart_ops = {
    .name = "uart16550",
    .save = uart_save,
    .load = uart_load,
    .fdt = uart_fdt,
    .read = uart_read,
    .write = uart_write,
    .reset = uart_reset,
    .destroy = uart_destroy,
};

struct uart16550 *uart_create(struct vm *vm, uint64_t base, struct irq_line irq)
{
    struct uart16550 *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    u->vm = vm;
    u->irq = irq;
    pthread_mutex_init(&u->lock, NULL);
    if (bus_add_mmio(&vm->bus, base, 0x100, &uart_ops, u) < 0) {
        uart_destroy(u);
        return NULL;
    }
    vm->uart = u;
    return u;
}
