/* An interrupt line: a device raises or lowers it without knowing which
 * interrupt controller (or none) is behind it. */
#ifndef VMON_IRQ_H
#define VMON_IRQ_H
struct irq_line {
    void (*set)(void *ctrl, unsigned num, int level);
    void *ctrl;
    unsigned num;
};

static inline void irq_set(const struct irq_line *l, int level)
{
    if (l && l->set) l->set(l->ctrl, l->num, level);
}
#endif
