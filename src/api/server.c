/* The API server: libmicrohttpd on the service's own bound unix socket
 * (MHD_OPTION_LISTEN_SOCKET), a thread per connection (an action may wait
 * for a worker), bodies collected up to API_BODY_MAX, and a route table
 * that gives 404 for an unknown path and 405 for a wrong method. */
#include "api/api.h"
#include "host/host.h"
#include <json-c/json.h>
#include "api/mhd.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_CONNECTIONS 64
#define API_IDLE_SECS   30 /* a client that stops sending mid-request is dropped */

struct api_method {
    const char *method;
    int (*handler)(struct api_req *r);
};

struct api_route {
    const char *pattern; /* segments; {name} and {action} match one segment */
    struct api_method methods[4];
    const char *allow; /* for 405's Allow header */
};

static const struct api_route routes[] = {
    {"/v1/version", {{"GET", api_version_get}}, "GET"},
    {"/v1/metrics", {{"GET", api_metrics_get}}, "GET"},
    {"/v1/vms", {{"GET", api_vms_list}}, "GET"},
    {"/v1/vms/{name}",
     {{"GET", api_vm_get}, {"PUT", api_vm_put}, {"PATCH", api_vm_patch}, {"DELETE", api_vm_delete}},
     "GET, PUT, PATCH, DELETE"},
    {"/v1/vms/{name}/actions/{action}", {{"PUT", api_vm_action}}, "PUT"},
    {"/v1/vms/{name}/logs", {{"GET", api_vm_logs}}, "GET"},
    {"/v1/vms/{name}/resize", {{"PUT", api_vm_resize}}, "PUT"},
    {"/v1/vms/{name}/snapshot", {{"PUT", api_vm_snapshot}}, "PUT"},
    {"/v1/vms/{name}/migrate", {{"PUT", api_vm_migrate}}, "PUT"},
    {"/v1/vms/{name}/console", {{"GET", api_vm_console}}, "GET"},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* The request's body as it arrives. */
struct api_conn {
    char *buf;
    size_t len;
    int too_big;
};

static void count_status(struct service *svc, unsigned status)
{
    atomic_fetch_add(&svc->requests, 1);
    if (status >= 500)
        atomic_fetch_add(&svc->server_errors, 1);
    else if (status >= 400)
        atomic_fetch_add(&svc->client_errors, 1);
}

static int queue(struct service *svc, struct MHD_Connection *conn, unsigned status,
                 const char *body, size_t len, const char *allow)
{
    const struct mhd_lib *m = svc->mhd;
    struct MHD_Response *resp =
        m->create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    if (len) m->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (allow) m->add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    int r = m->queue_response(conn, status, resp);
    m->destroy_response(resp);
    return r;
}

int api_reply_json(struct api_req *r, unsigned status, json_object *o)
{
    count_status(r->svc, status);
    if (!o) return queue(r->svc, r->conn, status, "", 0, NULL);
    const char *text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *body = NULL;
    int n = asprintf(&body, "%s\n", text);
    json_object_put(o);
    if (n < 0) return MHD_NO;
    int ret = queue(r->svc, r->conn, status, body, (size_t)n, NULL);
    free(body);
    return ret;
}

static int error_body(struct service *svc, struct MHD_Connection *conn, unsigned status,
                      const char *allow, const char *msg)
{
    count_status(svc, status);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(msg));
    char *body = NULL;
    int n = asprintf(
        &body, "%s\n",
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    if (n < 0) return MHD_NO;
    int ret = queue(svc, conn, status, body, (size_t)n, allow);
    free(body);
    return ret;
}

int api_reply_error(struct api_req *r, unsigned status, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return error_body(r->svc, r->conn, status, NULL, msg);
}

json_object *api_body_object(const struct api_req *r, int empty_ok, char *err, size_t errlen)
{
    size_t skip = 0;
    while (skip < r->body_len && strchr(" \t\r\n", r->body[skip]))
        skip++;
    if (skip == r->body_len) {
        if (empty_ok) return json_object_new_object();
        snprintf(err, errlen, "the body is empty (want a JSON object)");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(32);
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || jerr != json_tokener_success || end < r->body_len) {
        const char *why = jerr == json_tokener_continue  ? "it ends too early"
                          : jerr != json_tokener_success ? json_tokener_error_desc(jerr)
                                                         : "more after the value";
        snprintf(err, errlen, "malformed JSON: %s", why);
        json_object_put(o);
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "want a JSON object");
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Does url match pattern? Fills r's path parameters. */
static int route_match(const char *pattern, const char *url, struct api_req *r)
{
    for (;;) {
        if (*pattern != '/' || *url != '/') return *pattern == *url;
        pattern++;
        url++;
        size_t plen = strcspn(pattern, "/"), ulen = strcspn(url, "/");
        if (ulen == 0) return 0;
        if (*pattern == '{') {
            int is_name = !strncmp(pattern, "{name}", plen);
            char *dst = is_name ? r->name : r->action;
            size_t size = is_name ? sizeof(r->name) : sizeof(r->action);
            if (ulen >= size) return 0;
            memcpy(dst, url, ulen);
            dst[ulen] = 0;
        } else if (plen != ulen || strncmp(pattern, url, plen)) {
            return 0;
        }
        pattern += plen;
        url += ulen;
    }
}

static int dispatch(struct api_req *r, const char *url)
{
    for (unsigned i = 0; i < N_ROUTES; i++) {
        if (!route_match(routes[i].pattern, url, r)) continue;
        for (unsigned m = 0; m < 4 && routes[i].methods[m].method; m++)
            if (!strcmp(routes[i].methods[m].method, r->method))
                return routes[i].methods[m].handler(r);
        char msg[128];
        snprintf(msg, sizeof(msg), "%s takes %s, not %.16s", routes[i].pattern, routes[i].allow,
                 r->method);
        return error_body(r->svc, r->conn, 405, routes[i].allow, msg);
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "no such resource: %.100s (see doc/api.yaml)", url);
    return error_body(r->svc, r->conn, 404, NULL, msg);
}

static int too_big(struct service *svc, struct MHD_Connection *conn)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "the body is larger than %u bytes", API_BODY_MAX);
    return error_body(svc, conn, 413, NULL, msg);
}

/* First call of a request: take its state, refuse a declared oversize body. */
static enum MHD_Result request_begin(struct service *svc, struct MHD_Connection *conn,
                                     void **con_cls)
{
    struct api_conn *c = calloc(1, sizeof(*c));
    if (!c) return MHD_NO;
    *con_cls = c;
    const char *cl =
        svc->mhd->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > API_BODY_MAX) {
        c->too_big = 1;
        return (enum MHD_Result)too_big(svc, conn);
    }
    return MHD_YES;
}

static void body_append(struct api_conn *c, const char *data, size_t n)
{
    if (c->too_big) return;
    char *nb = c->len + n <= API_BODY_MAX ? realloc(c->buf, c->len + n + 1) : NULL;
    if (!nb) {
        c->too_big = 1; /* over the limit (or out of memory): 413 */
        free(c->buf);
        c->buf = NULL;
        c->len = 0;
        return;
    }
    memcpy(nb + c->len, data, n);
    c->len += n;
    nb[c->len] = 0;
    c->buf = nb;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct service *svc = cls;
    struct api_conn *c = *con_cls;
    if (!c) return request_begin(svc, conn, con_cls);
    if (*upload_size) {
        body_append(c, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (c->too_big) return (enum MHD_Result)too_big(svc, conn);
    struct api_req r = {.svc = svc, .conn = conn, .method = method};
    r.body = c->buf ? c->buf : "";
    r.body_len = c->len;
    return (enum MHD_Result)dispatch(&r, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct api_conn *c = *con_cls;
    if (!c) return;
    free(c->buf);
    free(c);
    *con_cls = NULL;
}

int api_start(struct service *svc, char *err, size_t errlen)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
    if (!svc->mhd && !(svc->mhd = mhd_load(err, errlen))) return -1;
    svc->httpd = svc->mhd->start_daemon(
        flags, 0, NULL, NULL, on_request, svc, MHD_OPTION_LISTEN_SOCKET, svc->listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)API_IDLE_SECS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, svc, MHD_OPTION_END);
    if (!svc->httpd) {
        snprintf(err, errlen, "cannot start the API server on %s", svc->socket_path);
        return -1;
    }
    return 0;
}

void api_stop(struct service *svc)
{
    if (!svc->httpd) return;
    /* The listening socket stays the service's: it closes it itself. */
    svc->mhd->quiesce_daemon(svc->httpd);
    svc->mhd->stop_daemon(svc->httpd);
    svc->httpd = NULL;
    mhd_unload(svc->mhd);
    svc->mhd = NULL;
}
