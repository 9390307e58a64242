#ifndef VMON_SIGNALS_H
#define VMON_SIGNALS_H
struct vm;
struct vm_signals;
/* Turn SIGTERM/SIGINT/SIGHUP/SIGQUIT into a VM_EXIT_SIGNAL exit request
 * (exit code 128 + signal). Call before any other thread is created. */
struct vm_signals *vm_signals_start(struct vm *vm);
void vm_signals_stop(struct vm_signals *s);
#endif
