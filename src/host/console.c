/* The service's end of its workers' serial consoles: see struct
 * host_console in host.h. The worker runs `vmon run --console fd:4`, one
 * end of a socket pair: its UART's output comes here, and bytes sent back
 * are the guest's serial input. */
#include "host/host.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_WAIT_MS 200 /* a client this slow to take output misses some */

void host_console_init(struct host_console *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->worker_fd = c->client_fd = c->file_fd = -1;
}

void host_console_destroy(struct host_console *c)
{
    if (c->worker_fd >= 0) close(c->worker_fd);
    if (c->file_fd >= 0) close(c->file_fd);
    free(c->ring);
    pthread_mutex_destroy(&c->lock);
}

int host_console_is_ours(const struct vm_def *d)
{
    return !d->console || !strcmp(d->console, "log");
}

static void ring_put(struct host_console *c, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c->ring[(c->written + i) % HOST_CONSOLE_RING] = buf[i];
    c->written += n;
}

/* Send all of buf to the client, giving up on one that does not take it. */
static int client_send(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, CLIENT_WAIT_MS) <= 0) return -1;
            continue;
        }
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Output from the worker: into the ring, the log file and the client. */
static void console_output(struct host_console *c, const char *buf, size_t n)
{
    pthread_mutex_lock(&c->lock);
    ring_put(c, buf, n);
    if (c->file_fd >= 0 && write(c->file_fd, buf, n) < 0) {
        /* a full disk loses the file's copy; the ring still has it */
    }
    if (c->client_fd >= 0) client_send(c->client_fd, buf, n);
    pthread_mutex_unlock(&c->lock);
}

struct reader_args {
    struct service *svc;
    struct host_vm *vm;
};

/* Drains the worker's console until the worker ends. */
static void *reader_thread(void *arg)
{
    struct reader_args a = *(struct reader_args *)arg;
    free(arg);
    struct host_console *c = &a.vm->con;
    int fd = c->worker_fd;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        console_output(c, buf, (size_t)n);
    }
    pthread_mutex_lock(&c->lock);
    if (c->worker_fd == fd) { /* else a new worker has the console already */
        c->worker_fd = -1;
        if (c->file_fd >= 0) close(c->file_fd);
        c->file_fd = -1;
        if (c->client_fd >= 0) shutdown(c->client_fd, SHUT_RDWR); /* the session ends */
    }
    close(fd);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&a.svc->lock);
    c->reading--;
    pthread_cond_broadcast(&a.svc->changed);
    pthread_mutex_unlock(&a.svc->lock);
    return NULL;
}

int host_console_open(struct service *svc, struct host_vm *vm, int fd, char *err, size_t errlen)
{
    struct host_console *c = &vm->con;
    char path[PATH_MAX];
    host_log_path(svc, vm->def.name, "console.log", path, sizeof(path));
    struct reader_args *a = malloc(sizeof(*a));
    pthread_mutex_lock(&c->lock);
    if (!c->ring) c->ring = malloc(HOST_CONSOLE_RING);
    if (c->file_fd < 0) c->file_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    c->worker_fd = fd;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&svc->lock);
    c->reading++;
    pthread_mutex_unlock(&svc->lock);
    pthread_t t;
    if (a) *a = (struct reader_args){svc, vm};
    if (!a || !c->ring || pthread_create(&t, NULL, reader_thread, a) != 0) {
        free(a);
        pthread_mutex_lock(&c->lock);
        c->worker_fd = -1; /* the caller closes fd */
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_lock(&svc->lock);
        c->reading--;
        pthread_mutex_unlock(&svc->lock);
        snprintf(err, errlen, "cannot serve VM %s's console: out of memory", vm->def.name);
        return -1;
    }
    pthread_detach(t);
    return 0;
}

/* The ring's contents (c->lock held). */
static char *ring_copy(struct host_console *c, size_t *len)
{
    size_t n = c->written < HOST_CONSOLE_RING ? (size_t)c->written : HOST_CONSOLE_RING;
    char *out = n ? malloc(n) : NULL;
    for (size_t i = 0; out && i < n; i++)
        out[i] = c->ring[(c->written - n + i) % HOST_CONSOLE_RING];
    *len = out ? n : 0;
    return out;
}

char *host_console_ring(struct host_vm *vm, size_t *len)
{
    pthread_mutex_lock(&vm->con.lock);
    char *out = ring_copy(&vm->con, len);
    pthread_mutex_unlock(&vm->con.lock);
    return out;
}

int host_console_attach(struct host_vm *vm, int client_fd, int *to_worker, char *err, size_t errlen)
{
    struct host_console *c = &vm->con;
    size_t n = 0;
    char *old = NULL;
    pthread_mutex_lock(&c->lock);
    int r = HOST_OK;
    if (c->client_fd >= 0) {
        snprintf(err, errlen, "someone is attached to VM %s's console", vm->def.name);
        r = HOST_CONFLICT;
    } else if (c->worker_fd < 0 || (*to_worker = fcntl(c->worker_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        snprintf(err, errlen, "VM %s's worker is gone", vm->def.name);
        r = HOST_CONFLICT;
    } else {
        /* What came while nobody was attached, then the output as it comes. */
        old = ring_copy(c, &n);
        if (n) client_send(client_fd, old, n);
        c->client_fd = client_fd;
    }
    pthread_mutex_unlock(&c->lock);
    free(old);
    return r;
}

void host_console_detach(struct host_vm *vm, int client_fd)
{
    pthread_mutex_lock(&vm->con.lock);
    if (vm->con.client_fd == client_fd) vm->con.client_fd = -1;
    pthread_mutex_unlock(&vm->con.lock);
}

void host_console_end_sessions(struct service *svc)
{
    pthread_mutex_lock(&svc->lock);
    for (int tries = 0; tries < 50; tries++) {
        int live = 0;
        for (struct host_vm *vm = svc->vms; vm; vm = vm->next) {
            live += vm->con.sessions;
            pthread_mutex_lock(&vm->con.lock);
            if (vm->con.client_fd >= 0) shutdown(vm->con.client_fd, SHUT_RDWR);
            pthread_mutex_unlock(&vm->con.lock);
        }
        if (!live) break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&svc->changed, &svc->lock, &ts);
    }
    pthread_mutex_unlock(&svc->lock);
}
