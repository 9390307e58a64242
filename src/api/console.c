/* GET /v1/vms/{name}/console with "Connection: Upgrade" and "Upgrade:
 * vmon-console": the answer is 101 Switching Protocols and the connection
 * becomes the VM's serial console, raw bytes both ways: first what the
 * ring kept, then the output as it comes; what the client sends is typed
 * into the guest. Closing the connection detaches (vmon console does on
 * Ctrl-A d); the VM runs on. One client at a time. */
#include "api/api.h"
#include "host/host.h"
#include <errno.h>
#include <fcntl.h>
#include "api/mhd.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONSOLE_PROTOCOL "vmon-console"

struct session {
    struct service *svc;
    struct host_vm *vm; /* vm->refs held */
    int sock, to_worker;
    struct MHD_UpgradeResponseHandle *urh;
    char *extra; /* bytes the client sent after its request */
    size_t extra_len;
};

static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static void end_session(struct session *s)
{
    if (s->to_worker >= 0) close(s->to_worker);
    s->svc->mhd->upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
    pthread_mutex_lock(&s->svc->lock);
    s->vm->refs--;
    s->vm->con.sessions--;
    pthread_cond_broadcast(&s->svc->changed);
    pthread_mutex_unlock(&s->svc->lock);
    free(s->extra);
    free(s);
}

/* The client's typing goes to the guest until it leaves. */
static void *session_thread(void *arg)
{
    struct session *s = arg;
    int ok = write_all(s->to_worker, s->extra, s->extra_len) == 0;
    char buf[1024];
    while (ok) {
        ssize_t n = recv(s->sock, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || write_all(s->to_worker, buf, (size_t)n) < 0) break;
    }
    host_console_detach(s->vm, s->sock);
    host_log("VM %s: console detached", s->vm->def.name);
    end_session(s);
    return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct session *s = cls;
    /* MHD made it non-blocking; the session blocks in recv (sends to the
     * client do not wait: see host_console). */
    fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
    s->sock = sock;
    s->urh = urh;
    s->to_worker = -1;
    if (extra_in_size && (s->extra = malloc(extra_in_size))) {
        memcpy(s->extra, extra_in, extra_in_size);
        s->extra_len = extra_in_size;
    }
    char err[256];
    pthread_t t;
    if (host_console_attach(s->vm, sock, &s->to_worker, err, sizeof(err)) != HOST_OK) {
        /* Lost a race with another client or the worker's end: say so. */
        const char *msg = "\r\nvmon: ";
        if (send(sock, msg, strlen(msg), MSG_NOSIGNAL) < 0 ||
            send(sock, err, strlen(err), MSG_NOSIGNAL) < 0) {
        }
        s->to_worker = -1;
        end_session(s);
        return;
    }
    host_log("VM %s: console attached", s->vm->def.name);
    if (pthread_create(&t, NULL, session_thread, s) != 0) {
        host_console_detach(s->vm, sock);
        end_session(s);
        return;
    }
    pthread_detach(t);
}

static int wants_upgrade(const struct mhd_lib *m, struct MHD_Connection *conn)
{
    const char *up = m->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
    const char *c = m->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
    return up && c && !strcasecmp(up, CONSOLE_PROTOCOL) && strcasestr(c, "upgrade");
}

/* Can this VM's console be attached now? (svc->lock held) */
static int check_vm(struct api_req *r, struct host_vm *vm)
{
    if (!vm) return api_reply_error(r, 404, "no VM named '%.64s'", r->name);
    if (!wants_upgrade(r->svc->mhd, r->conn))
        return api_reply_error(
            r, 400,
            "the console is a connection upgrade: send 'Connection: Upgrade' and "
            "'Upgrade: " CONSOLE_PROTOCOL "' (vmon console NAME does)");
    if (!host_console_is_ours(&vm->def))
        return api_reply_error(r, 409,
                               "VM %s's console is '%s', not the service's (console \"log\")",
                               vm->def.name, vm->def.console);
    if (!vm->pid || vm->state == HVM_STOPPING)
        return api_reply_error(r, 409,
                               "VM %s is %s: start it to attach (vmon logs shows its console)",
                               vm->def.name, host_state_name(vm->state));
    if (vm->con.client_fd >= 0)
        return api_reply_error(r, 409, "someone is attached to VM %s's console", vm->def.name);
    return 0;
}

int api_vm_console(struct api_req *r)
{
    struct session *s = calloc(1, sizeof(*s));
    if (!s) return MHD_NO;
    pthread_mutex_lock(&r->svc->lock);
    struct host_vm *vm = host_vm_find(r->svc, r->name);
    int ret = check_vm(r, vm);
    if (ret == 0) {
        vm->refs++;
        vm->con.sessions++;
    }
    pthread_mutex_unlock(&r->svc->lock);
    if (ret) {
        free(s);
        return ret;
    }
    s->svc = r->svc;
    s->vm = vm;
    const struct mhd_lib *m = r->svc->mhd;
    struct MHD_Response *resp = m->create_response_for_upgrade(on_upgrade, s);
    if (resp) m->add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, CONSOLE_PROTOCOL);
    ret = resp ? m->queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp) : MHD_NO;
    if (resp) m->destroy_response(resp);
    atomic_fetch_add(&r->svc->requests, 1);
    if (ret != MHD_YES) {
        pthread_mutex_lock(&r->svc->lock);
        vm->refs--;
        vm->con.sessions--;
        pthread_mutex_unlock(&r->svc->lock);
        free(s);
    }
    return ret;
}
