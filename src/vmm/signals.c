/* Termination signals for a foreground VM (`vmon run`): SIGTERM, SIGINT,
 * SIGHUP and SIGQUIT are blocked in every thread and taken by one thread
 * with sigwait. SIGTERM, SIGINT and SIGHUP first press the guest's power
 * button when its driver is there, and stop the VM if it has not powered
 * off after the grace period (or at a second signal); otherwise, and for
 * SIGQUIT, the VM stops at once. vmon then leaves through its normal exit
 * path (terminal restored, images flushed and unlocked). */
#include "vmm/signals.h"
#include "vmm/vm.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct vm_signals {
    struct vm *vm;
    pthread_t thread;
    sigset_t set;
    _Atomic int closing;
    double grace; /* seconds the guest has to power off */
};

static void stop_now(struct vm_signals *s, int sig, const char *why)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "%s signal %d", why, sig);
    vm_request_exit(s->vm, VM_EXIT_SIGNAL, 128 + sig, msg);
}

static void *signal_thread(void *arg)
{
    struct vm_signals *s = arg;
    int pending = 0; /* the signal whose power-button press is running */
    struct timespec deadline = {0, 0};
    for (;;) {
        int sig = 0;
        if (pending) {
            struct timespec now, left;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long ns =
                (deadline.tv_sec - now.tv_sec) * 1000000000ll + (deadline.tv_nsec - now.tv_nsec);
            if (ns <= 0) {
                stop_now(s, pending, "the guest did not power off in time after");
                pending = 0;
                continue;
            }
            left.tv_sec = (time_t)(ns / 1000000000ll);
            left.tv_nsec = (long)(ns % 1000000000ll);
            sig = sigtimedwait(&s->set, NULL, &left);
            if (sig < 0) continue; /* timeout or EINTR: look at the clock again */
        } else if (sigwait(&s->set, &sig) != 0) {
            continue;
        }
        if (atomic_load(&s->closing)) return NULL;
        if (pending || sig == SIGQUIT || s->grace <= 0 || vm_power_button(s->vm) < 0) {
            stop_now(s, sig, "terminating on");
            pending = 0;
            continue;
        }
        vm_log(s->vm, VM_LOG_WARN, NULL,
               "signal %d: pressed the guest's power button; it is stopped in %.3g s "
               "or at the next signal",
               sig, s->grace);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)s->grace;
        deadline.tv_nsec += (long)((s->grace - (double)(time_t)s->grace) * 1e9);
        if (deadline.tv_nsec >= 1000000000l) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000l;
        }
        pending = sig;
    }
}

struct vm_signals *vm_signals_start(struct vm *vm, double grace)
{
    struct vm_signals *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->vm = vm;
    s->grace = grace;
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
