/* `vmon console NAME`: attach the terminal to a VM's serial console through
 * the service (GET /v1/vms/NAME/console, upgraded to raw bytes). The
 * terminal is in raw mode while attached; Ctrl-A d detaches (the VM runs
 * on), Ctrl-A Ctrl-A sends a literal Ctrl-A. The end of input detaches
 * too; the console closing (the VM stopped) ends the command. */
#include "host/ctl.h"
#include "vmm/cli.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_A 0x01

struct attach {
    int sock;
    int escape; /* saw Ctrl-A */
    int raw;
    struct termios saved;
};

void ctl_console_usage(FILE *out)
{
    fprintf(out, "usage: vmon console NAME [--socket PATH]\n"
                 "Attach to a running VM's serial console through the service: first what\n"
                 "it printed while nobody was attached (the last 256 KiB), then its output\n"
                 "as it comes; typing goes to the guest. Ctrl-A d detaches (the VM runs on),\n"
                 "Ctrl-A Ctrl-A sends Ctrl-A.\n\n");
    cli_print_opts(&ctl_socket_opt, 1, out);
}

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

/* Typing: 1 to go on, 0 to detach, -1 if the service went away. */
static int typed(struct attach *a, const char *buf, size_t n)
{
    char out[2 * 512];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = buf[i];
        if (a->escape) {
            a->escape = 0;
            if (ch == 'd' || ch == 'D') return write_all(a->sock, out, k) < 0 ? -1 : 0;
            if (ch != CTRL_A) out[k++] = CTRL_A;
            out[k++] = ch;
        } else if (ch == CTRL_A) {
            a->escape = 1;
        } else {
            out[k++] = ch;
        }
    }
    return write_all(a->sock, out, k) < 0 ? -1 : 1;
}

/* Pump until detach or the end; the exit status. */
static int pump(struct attach *a)
{
    int in_open = 1;
    for (;;) {
        struct pollfd p[2] = {{a->sock, POLLIN, 0}, {0, POLLIN, 0}};
        if (poll(p, in_open ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            return CLI_ERROR;
        }
        char buf[512];
        if (p[0].revents) {
            ssize_t n = read(a->sock, buf, sizeof(buf));
            if (n <= 0) {
                fprintf(stderr, "\r\nvmon console: the console closed (the VM stopped)\r\n");
                return CLI_OK;
            }
            if (write_all(1, buf, (size_t)n) < 0) return CLI_ERROR;
        }
        if (in_open && p[1].revents) {
            ssize_t n = read(0, buf, sizeof(buf));
            int r = n > 0 ? typed(a, buf, (size_t)n) : 0;
            if (r <= 0) {
                if (r == 0) fprintf(stderr, "\r\nvmon console: detached\r\n");
                return r == 0 ? CLI_OK : CLI_ERROR;
            }
        }
    }
}

static void raw_mode(struct attach *a)
{
    if (!isatty(0) || tcgetattr(0, &a->saved) < 0) return;
    struct termios t = a->saved;
    cfmakeraw(&t);
    t.c_oflag |= OPOST | ONLCR;
    a->raw = tcsetattr(0, TCSAFLUSH, &t) == 0;
}

int ctl_console(int argc, char **argv)
{
    const char *name = NULL, *given = NULL;
    int r = ctl_parse_name("console", argc, argv, &name, &given, ctl_console_usage, 1);
    if (r) return r < 0 ? CLI_OK : r;
    if (strchr(name, '/') || strchr(name, '?') || strchr(name, ' ')) {
        fprintf(stderr, "vmon console: no VM named '%s'\n", name);
        return CLI_ERROR;
    }
    char sock[4096], path[512], err[512];
    ctl_socket_path(given, sock, sizeof(sock));
    snprintf(path, sizeof(path), "/v1/vms/%s/console", name);
    struct attach a = {.sock = -1};
    struct http_reply rep;
    if (http_upgrade(sock, path, "vmon-console", &a.sock, &rep, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon console: %s\n", err);
        return CLI_ERROR;
    }
    if (rep.status != 101) {
        ctl_service_error("console", &rep);
        http_reply_free(&rep);
        return CLI_ERROR;
    }
    raw_mode(&a);
    fprintf(stderr, "vmon console: attached to %s; Ctrl-A d detaches\r\n", name);
    r = pump(&a);
    if (a.raw) tcsetattr(0, TCSAFLUSH, &a.saved);
    close(a.sock);
    return r;
}
