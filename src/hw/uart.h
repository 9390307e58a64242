#ifndef VMON_UART_H
#define VMON_UART_H
#include <stdint.h>
#include "irq/irq.h"
struct vm;
struct uart16550;
/* 16550A UART at base; output goes to vm->console_out_fd. */
struct uart16550 *uart_create(struct vm *vm, uint64_t base, struct irq_line irq);
/* Feed received bytes (from the console); returns how many were accepted. */
unsigned uart_receive(struct uart16550 *u, const uint8_t *buf, unsigned len);
/* The line is held in break (a SysRq for Linux's serial console). */
void uart_send_break(struct uart16550 *u);
/* Free space in the receive FIFO. */
unsigned uart_rx_room(struct uart16550 *u);
#endif
