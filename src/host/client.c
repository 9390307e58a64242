/* A small HTTP/1.1 client over a unix socket for the CLI: one request per
 * connection (Connection: close), the response read to its end, chunked
 * bodies decoded. */
#include "host/ctl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX    (32u << 20)
#define REPLY_WAIT_S 600 /* an action waits for its VM (a shutdown's grace, say) */

static int connect_to(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return -1;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "cannot reach the vmon service at %s: %s (is vmon serve running?)",
                 path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    struct timeval tv = {REPLY_WAIT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static char *read_all(int fd, size_t *len, char *err, size_t errlen)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errlen, "reading the service's answer: %s", strerror(errno));
            free(buf);
            return NULL;
        }
        if (r == 0) {
            buf[n] = 0;
            *len = n;
            return buf;
        }
        n += (size_t)r;
    }
    snprintf(err, errlen, "the service's answer is too large");
    free(buf);
    return NULL;
}

/* Decode a chunked body in place; its new length. */
static size_t dechunk(char *body, size_t len)
{
    size_t in = 0, out = 0;
    while (in < len) {
        char *end;
        unsigned long n = strtoul(body + in, &end, 16);
        char *eol = strstr(end, "\r\n");
        if (!eol || n == 0) break;
        in = (size_t)(eol + 2 - body);
        if (n > len - in) n = len - in;
        memmove(body + out, body + in, n);
        out += n;
        in += n + 2;
    }
    body[out] = 0;
    return out;
}

static int parse_reply(struct http_reply *out, size_t len, char *err, size_t errlen)
{
    char *hdr_end = strstr(out->data, "\r\n\r\n");
    if (sscanf(out->data, "HTTP/1.%*d %d", &out->status) != 1 || !hdr_end) {
        snprintf(err, errlen, "the service's answer is not HTTP");
        return -1;
    }
    *hdr_end = 0;
    char *body = hdr_end + 4;
    out->body_len = len - (size_t)(body - out->data);
    for (char *h = strstr(out->data, "\r\n"); h; h = strstr(h + 2, "\r\n"))
        if (!strncasecmp(h + 2, "Transfer-Encoding: chunked", 26))
            out->body_len = dechunk(body, out->body_len);
    out->body = body;
    return 0;
}

int http_request(const char *socket_path, const char *method, const char *path, const char *body,
                 struct http_reply *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int fd = connect_to(socket_path, err, errlen);
    if (fd < 0) return -1;
    size_t blen = body ? strlen(body) : 0;
    char *req = NULL;
    int n = asprintf(&req,
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, blen, body ? body : "");
    int r = -1;
    size_t len;
    if (n < 0 || send_all(fd, req, (size_t)n) < 0) {
        snprintf(err, errlen, "sending to the service: %s", strerror(errno));
    } else if ((out->data = read_all(fd, &len, err, errlen))) {
        r = parse_reply(out, len, err, errlen);
    }
    free(req);
    close(fd);
    if (r < 0) http_reply_free(out);
    return r;
}

void http_reply_free(struct http_reply *r)
{
    free(r->data);
    memset(r, 0, sizeof(*r));
}

/* Read the response's head (up to the blank line) byte by byte, so nothing
 * after it is taken; its length, or -1. */
static int read_head(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n++;
        buf[n] = 0;
        if (n >= 4 && !memcmp(buf + n - 4, "\r\n\r\n", 4)) return (int)n;
    }
    buf[n] = 0;
    return -1;
}

int http_upgrade(const char *socket_path, const char *path, const char *protocol, int *fd_out,
                 struct http_reply *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int fd = connect_to(socket_path, err, errlen);
    if (fd < 0) return -1;
    char req[512], head[4096];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
                     "Upgrade: %s\r\n\r\n",
                     path, protocol);
    int status = 0;
    if (send_all(fd, req, (size_t)n) < 0 || read_head(fd, head, sizeof(head)) < 0 ||
        sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(err, errlen, "the service's answer is not HTTP");
        close(fd);
        return -1;
    }
    if (status == 101) {
        struct timeval none = {0, 0}; /* a console waits as long as it likes */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
        out->status = 101;
        *fd_out = fd;
        return 0;
    }
    /* An error: the head, then Content-Length bytes of body (the
     * connection stays open after them). */
    size_t len = 0, hlen = strlen(head);
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
    if (want > 65536) want = 65536;
    out->data = malloc(hlen + want + 1);
    if (!out->data) {
        close(fd);
        return -1;
    }
    memcpy(out->data, head, hlen);
    while (len < want) {
        ssize_t r = read(fd, out->data + hlen + len, want - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    out->data[hlen + len] = 0;
    return parse_reply(out, hlen + len, err, errlen);
}
