/* Termination signals for a foreground VM (`vmon run`): SIGTERM, SIGINT,
 * SIGHUP and SIGQUIT are blocked in every thread and taken by one thread
 * with sigwait, which asks the VM to stop; vmon then leaves through its
 * normal exit path (terminal restored, images flushed and unlocked). */
#include "vmm/signals.h"
#include "vmm/vm.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

struct vm_signals {
    struct vm *vm;
    pthread_t thread;
    sigset_t set;
    _Atomic int closing;
};

static void *signal_thread(void *arg)
{
    struct vm_signals *s = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&s->set, &sig) != 0) continue;
        if (atomic_load(&s->closing)) return NULL;
        char msg[64];
        snprintf(msg, sizeof(msg), "terminating on signal %d", sig);
        vm_request_exit(s->vm, VM_EXIT_SIGNAL, 128 + sig, msg);
    }
}

struct vm_signals *vm_signals_start(struct vm *vm)
{
    struct vm_signals *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->vm = vm;
    sigemptyset(&s->set);
    sigaddset(&s->set, SIGTERM);
    sigaddset(&s->set, SIGINT);
    sigaddset(&s->set, SIGHUP);
    sigaddset(&s->set, SIGQUIT);
    /* Threads created from now on (vCPUs, devices) inherit the mask. */
    pthread_sigmask(SIG_BLOCK, &s->set, NULL);
    if (pthread_create(&s->thread, NULL, signal_thread, s) != 0) {
        pthread_sigmask(SIG_UNBLOCK, &s->set, NULL);
        free(s);
        return NULL;
    }
    return s;
}

void vm_signals_stop(struct vm_signals *s)
{
    if (!s) return;
    atomic_store(&s->closing, 1);
    pthread_kill(s->thread, SIGTERM);
    pthread_join(s->thread, NULL);
    free(s);
}
