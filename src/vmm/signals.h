#ifndef VMON_SIGNALS_H
#define VMON_SIGNALS_H
struct vm;
struct vm_signals;
/* Turn SIGTERM/SIGINT/SIGHUP into a press of the guest's power button and,
 * if it is still running after grace seconds (or at a second signal, or at
 * once when the guest has no driver for the button or grace is 0), a
 * VM_EXIT_SIGNAL exit request (exit code 128 + signal); SIGQUIT stops at
 * once. Call before any other thread is created. */
struct vm_signals *vm_signals_start(struct vm *vm, double grace);
void vm_signals_stop(struct vm_signals *s);
#endif
