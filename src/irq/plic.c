/* PLIC, register layout per the RISC-V PLIC specification (1.0.0):
 *   0x000000 + 4*n      priority of source n
 *   0x001000            pending bits
 *   0x002000 + 0x80*c   enable bits of context c
 *   0x200000 + 0x1000*c threshold (+0) and claim/complete (+4) of context c
 * Sources are level triggered: a source is pending while its line is high
 * and it is not being serviced (claimed and not yet completed). */
#include "irq/plic.h"
#include "vmm/vm.h"
#include "board/fdt.h"
#include "snap/snap.h"
#include <libfdt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NCTX  (2 * VM_MAX_CPUS)
#define WORDS (PLIC_NSRC / 32)

struct plic {
    struct vm *vm;
    pthread_mutex_t lock;
    uint32_t priority[PLIC_NSRC];
    uint32_t level[WORDS]; /* line state */
    uint32_t pending[WORDS];
    uint32_t claimed[WORDS]; /* in service */
    uint32_t enable[NCTX][WORDS];
    uint32_t threshold[NCTX];
    int out[NCTX]; /* last signalled output level */
};

static unsigned plic_nctx(const struct plic *p)
{
    return 2 * p->vm->ncpus;
}

/* Highest-priority pending, enabled source above the threshold, or 0. */
static unsigned plic_best(const struct plic *p, unsigned ctx)
{
    unsigned best = 0;
    uint32_t best_prio = p->threshold[ctx];
    for (unsigned w = 0; w < WORDS; w++) {
        uint32_t m = p->pending[w] & p->enable[ctx][w] & ~p->claimed[w];
        while (m) {
            unsigned b = (unsigned)__builtin_ctz(m);
            m &= m - 1;
            unsigned src = w * 32 + b;
            if (src && p->priority[src] > best_prio) {
                best_prio = p->priority[src];
                best = src;
            }
        }
    }
    return best;
}

static void plic_update(struct plic *p)
{
    for (unsigned ctx = 0; ctx < plic_nctx(p); ctx++) {
        int lvl = plic_best(p, ctx) != 0;
        if (lvl == p->out[ctx]) continue;
        p->out[ctx] = lvl;
        struct hart *h = p->vm->harts[ctx / 2];
        uint64_t bit = (ctx & 1) ? MIP_SEIP : MIP_MEIP;
        if (lvl)
            atomic_fetch_or(&h->mip_async, bit);
        else
            atomic_fetch_and(&h->mip_async, ~bit);
        vm_kick_hart(p->vm, ctx / 2, HART_EV_IRQ);
    }
}

void plic_set_irq(void *opaque, unsigned num, int level)
{
    struct plic *p = opaque;
    if (num == 0 || num >= PLIC_NSRC) return;
    uint32_t bit = 1u << (num % 32);
    pthread_mutex_lock(&p->lock);
    if (level) {
        p->level[num / 32] |= bit;
        p->pending[num / 32] |= bit;
    } else {
        p->level[num / 32] &= ~bit;
        p->pending[num / 32] &= ~bit;
    }
    plic_update(p);
    pthread_mutex_unlock(&p->lock);
}

struct irq_line plic_line(struct plic *p, unsigned num)
{
    return (struct irq_line){plic_set_irq, p, num};
}

static int plic_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
    struct plic *p = dev;
    if (size != 4) return -1;
    uint32_t v = 0;
    pthread_mutex_lock(&p->lock);
    if (off < 4 * PLIC_NSRC) {
        v = p->priority[off / 4];
    } else if (off >= 0x1000 && off < 0x1000 + 4 * WORDS) {
        v = p->pending[(off - 0x1000) / 4];
    } else if (off >= 0x2000 && off < 0x2000 + 0x80ull * NCTX) {
        unsigned ctx = (unsigned)((off - 0x2000) / 0x80), w = (unsigned)((off & 0x7f) / 4);
        if (ctx < plic_nctx(p) && w < WORDS) v = p->enable[ctx][w];
    } else if (off >= 0x200000 && off < 0x200000 + 0x1000ull * NCTX) {
        unsigned ctx = (unsigned)((off - 0x200000) / 0x1000);
        unsigned reg = (unsigned)(off & 0xfff);
        if (ctx < plic_nctx(p)) {
            if (reg == 0) {
                v = p->threshold[ctx];
            } else if (reg == 4) { /* claim */
                unsigned src = plic_best(p, ctx);
                if (src) {
                    p->claimed[src / 32] |= 1u << (src % 32);
                    p->pending[src / 32] &= ~(1u << (src % 32));
                }
                v = src;
                plic_update(p);
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    *val = v;
    return 0;
}

static int plic_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
    struct plic *p = dev;
    if (size != 4) return -1;
    uint32_t v = (uint32_t)val;
    pthread_mutex_lock(&p->lock);
    if (off < 4 * PLIC_NSRC) {
        if (off) p->priority[off / 4] = v & 7;
    } else if (off >= 0x2000 && off < 0x2000 + 0x80ull * NCTX) {
        unsigned ctx = (unsigned)((off - 0x2000) / 0x80), w = (unsigned)((off & 0x7f) / 4);
        if (ctx < plic_nctx(p) && w < WORDS) p->enable[ctx][w] = w == 0 ? v & ~1u : v;
    } else if (off >= 0x200000 && off < 0x200000 + 0x1000ull * NCTX) {
        unsigned ctx = (unsigned)((off - 0x200000) / 0x1000);
        unsigned reg = (unsigned)(off & 0xfff);
        if (ctx < plic_nctx(p)) {
            if (reg == 0) {
                p->threshold[ctx] = v & 7;
            } else if (reg == 4 && v > 0 && v < PLIC_NSRC) { /* complete */
                uint32_t bit = 1u << (v % 32);
                /* Completion for a source not enabled for this context is
                 * ignored (PLIC spec 1.0.0, "Interrupt Completion"). */
                if (p->enable[ctx][v / 32] & bit) {
                    p->claimed[v / 32] &= ~bit;
                    if (p->level[v / 32] & bit) p->pending[v / 32] |= bit;
                }
            }
        }
    }
    plic_update(p);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void plic_reset(void *dev)
{
    struct plic *p = dev;
    pthread_mutex_lock(&p->lock);
    memset(p->priority, 0, sizeof(p->priority));
    memset(p->pending, 0, sizeof(p->pending));
    memcpy(p->pending, p->level, sizeof(p->pending));
    memset(p->claimed, 0, sizeof(p->claimed));
    memset(p->enable, 0, sizeof(p->enable));
    memset(p->threshold, 0, sizeof(p->threshold));
    plic_update(p);
    pthread_mutex_unlock(&p->lock);
}

static void plic_destroy(void *dev)
{
    struct plic *p = dev;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static int plic_fdt(void *dev, struct fdt_ctx *c, uint64_t base, uint64_t size)
{
    (void)dev;
    uint32_t cells[4 * VM_MAX_CPUS];
    unsigned n = 0;
    for (unsigned i = 0; i < c->vm->ncpus; i++) {
        cells[n++] = c->intc_phandle[i];
        cells[n++] = IRQ_MEI;
        cells[n++] = c->intc_phandle[i];
        cells[n++] = IRQ_SEI;
    }
    static const char compat[] = "sifive,plic-1.0.0\0riscv,plic0";
    void *fdt = c->fdt;
    if (fdt_begin_dev(c, "plic", base, size) < 0 ||
        fdt_property(fdt, "compatible", compat, sizeof(compat)) < 0 ||
        fdt_property_u32(fdt, "#address-cells", 0) < 0 ||
        fdt_property_u32(fdt, "#interrupt-cells", 1) < 0 ||
        fdt_property(fdt, "interrupt-controller", NULL, 0) < 0 ||
        fdt_property_u32(fdt, "riscv,ndev", PLIC_NSRC - 1) < 0 ||
        fdt_property_u32(fdt, "phandle", c->plic_phandle) < 0 ||
        fdt_prop_cells(fdt, "interrupts-extended", cells, n) < 0)
        return -1;
    return fdt_end_node(fdt);
}

static void put_words(struct snap_w *w, const uint32_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        snap_u32(w, v[i]);
}

static void get_words(struct snap_r *r, uint32_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        v[i] = snap_get_u32(r);
}

static void plic_save(void *dev, struct snap_w *w)
{
    struct plic *p = dev;
    pthread_mutex_lock(&p->lock);
    snap_u32(w, plic_nctx(p));
    put_words(w, p->priority, PLIC_NSRC);
    put_words(w, p->level, WORDS);
    put_words(w, p->pending, WORDS);
    put_words(w, p->claimed, WORDS);
    for (unsigned c = 0; c < plic_nctx(p); c++) {
        put_words(w, p->enable[c], WORDS);
        snap_u32(w, p->threshold[c]);
        snap_u32(w, (uint32_t)p->out[c]);
    }
    pthread_mutex_unlock(&p->lock);
}

static int plic_load(void *dev, struct snap_r *r)
{
    struct plic *p = dev;
    if (snap_get_u32(r) != plic_nctx(p)) return snap_fail(r, "wrong number of contexts");
    pthread_mutex_lock(&p->lock);
    get_words(r, p->priority, PLIC_NSRC);
    get_words(r, p->level, WORDS);
    get_words(r, p->pending, WORDS);
    get_words(r, p->claimed, WORDS);
    for (unsigned c = 0; c < plic_nctx(p); c++) {
        get_words(r, p->enable[c], WORDS);
        p->threshold[c] = snap_get_u32(r);
        p->out[c] = snap_get_u32(r) != 0;
    }
    pthread_mutex_unlock(&p->lock);
    return r->err[0] ? -1 : 0;
}

static const struct dev_ops plic_ops = {
    .name = "plic",
    .save = plic_save,
    .load = plic_load,
    .fdt = plic_fdt,
    .read = plic_read,
    .write = plic_write,
    .reset = plic_reset,
    .destroy = plic_destroy,
};

struct plic *plic_create(struct vm *vm, uint64_t base)
{
    struct plic *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->vm = vm;
    pthread_mutex_init(&p->lock, NULL);
    if (bus_add_mmio(&vm->bus, base, PLIC_SIZE, &plic_ops, p) < 0) {
        plic_destroy(p);
        return NULL;
    }
    return p;
}
