/* Host side of the serial console: a thread that reads the terminal and
 * feeds the guest UART. */
#include "backend/console.h"
#include "hw/uart.h"
#include "vmm/vm.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct console {
    struct vm *vm;
    int in_fd;
    int wake[2];
    pthread_t thread;
    int raw;
    struct termios saved;
    int escape; /* saw Ctrl-A */
    int started;
};

/* The terminal settings to restore at exit. The one piece of process
 * state: a terminal belongs to the process, not to one VM. */
static struct termios term_saved;
static volatile sig_atomic_t term_fd = -1;

static void term_restore(void)
{
    if (term_fd >= 0) tcsetattr(term_fd, TCSAFLUSH, &term_saved);
}

/* vmon itself crashed: give the terminal back before dying. */
static void term_fatal_signal(int sig)
{
    term_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* stdin is a terminal and this process is in its foreground process group
 * (not started by `timeout`, `&` or a job-control shell in the background). */
static int term_is_ours(int fd)
{
    if (!isatty(fd)) return 0;
    pid_t fg = tcgetpgrp(fd);
    return fg >= 0 && fg == getpgrp();
}

static void feed(struct console *c, const uint8_t *buf, size_t n)
{
    while (n && !atomic_load(&c->vm->exit_reason)) {
        unsigned k = uart_receive(c->vm->uart, buf, (unsigned)n);
        buf += k;
        n -= k;
        if (n) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static void *console_thread(void *arg)
{
    struct console *c = arg;
    for (;;) {
        struct pollfd p[2] = {{c->in_fd, POLLIN, 0}, {c->wake[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break;
        if (!(p[0].revents & (POLLIN | POLLHUP))) continue;
        uint8_t buf[256], out[256];
        ssize_t n = read(c->in_fd, buf, sizeof(buf));
        if (n <= 0) break; /* EOF: no more input, the guest keeps running */
        size_t k = 0;
        for (ssize_t i = 0; i < n; i++) {
            uint8_t ch = buf[i];
            if (c->escape) {
                c->escape = 0;
                if (ch == 'x' || ch == 'X') {
                    vm_request_exit(c->vm, VM_EXIT_USER, 0, "quit from the console (Ctrl-A x)");
                    return NULL;
                }
                if (ch == 'b' || ch == 'B') {
                    feed(c, out, k); /* what came before goes first */
                    k = 0;
                    uart_send_break(c->vm->uart);
                    continue;
                }
                if (ch == 'h' || ch == 'H' || ch == '?') {
                    fprintf(stderr, "\nvmon console escapes (Ctrl-A, then):\n"
                                    "  x  quit vmon (the guest is stopped)\n"
                                    "  s  print vCPU statistics\n"
                                    "  b  send a break (Linux: SysRq, then the command key)\n"
                                    "  h  this help\n"
                                    "  Ctrl-A  send Ctrl-A to the guest\n");
                    continue;
                }
                if (ch == 's' || ch == 'S') {
                    fputc('\n', stderr);
                    for (unsigned h = 0; h < c->vm->ncpus; h++) {
                        fprintf(stderr, "hart%u: insns %llu pc 0x%llx ", h,
                                (unsigned long long)c->vm->harts[h]->instret,
                                (unsigned long long)c->vm->harts[h]->pc);
                        vcpu_print_stats(&c->vm->vcpu[h], stderr);
                    }
                    continue;
                }
                if (ch != 0x01) out[k++] = 0x01;
                out[k++] = ch;
            } else if (ch == 0x01 && c->raw) {
                c->escape = 1;
            } else {
                out[k++] = ch;
            }
        }
        feed(c, out, k);
    }
    return NULL;
}

struct console *console_start(struct vm *vm, int in_fd)
{
    if (!vm->uart) return NULL;
    struct console *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->vm = vm;
    c->in_fd = in_fd;
    if (pipe(c->wake) < 0) {
        free(c);
        return NULL;
    }
    /* A terminal operation from a background process group must never stop
     * vmon (SIGTTOU/SIGTTIN): it fails instead, and vmon carries on. */
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    if (isatty(in_fd) && !term_is_ours(in_fd)) {
        /* In the background: the terminal is someone else's; no input. */
        close(c->wake[0]);
        close(c->wake[1]);
        free(c);
        return NULL;
    }
    if (isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
        struct termios t = c->saved;
        cfmakeraw(&t);
        t.c_oflag |= OPOST | ONLCR; /* keep output newline translation */
        term_saved = c->saved;
        term_fd = in_fd;
        atexit(term_restore);
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
        for (unsigned i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
            signal(fatal[i], term_fatal_signal);
        if (tcsetattr(in_fd, TCSAFLUSH, &t) == 0) c->raw = 1;
    }
    if (c->raw)
        vm_log(vm, VM_LOG_WARN, NULL, "%u vCPU(s), %llu MiB; Ctrl-A h for help, Ctrl-A x to quit",
               vm->ncpus, (unsigned long long)(vm->ram_size >> 20));
    if (pthread_create(&c->thread, NULL, console_thread, c) != 0) {
        console_stop(c);
        return NULL;
    }
    c->started = 1;
    return c;
}

void console_stop(struct console *c)
{
    if (!c) return;
    if (c->started) {
        ssize_t r = write(c->wake[1], "x", 1);
        (void)r;
        pthread_join(c->thread, NULL);
    }
    close(c->wake[0]);
    close(c->wake[1]);
    if (c->raw) {
        tcsetattr(c->in_fd, TCSAFLUSH, &c->saved);
        term_fd = -1;
    }
    free(c);
}
