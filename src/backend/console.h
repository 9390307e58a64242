#ifndef VMON_CONSOLE_H
#define VMON_CONSOLE_H
struct vm;
struct console;
/* Interactive serial console on the host terminal: raw mode while the
 * guest runs (restored on every exit path), Ctrl-A x quits, Ctrl-A Ctrl-A
 * sends a literal Ctrl-A. Input goes to the UART. */
struct console *console_start(struct vm *vm, int in_fd);
void console_stop(struct console *c);
#endif
