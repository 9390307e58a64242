/* The management API: HTTP/1.1 + JSON on the service's unix socket
 * (libmicrohttpd, json-c), REST resources in the style of Firecracker and
 * Cloud Hypervisor, described in doc/api.yaml. server.c routes requests to
 * one file per resource; errors are {"error": "..."} with a status: 400 bad
 * body, 404 unknown VM or route, 405 wrong method, 409 illegal in the VM's
 * state, 413 body over API_BODY_MAX. */
#ifndef VMON_API_H
#define VMON_API_H
#include <stddef.h>

#define API_BODY_MAX (64u << 10)

struct service;
struct json_object;
struct MHD_Connection;

int api_start(struct service *svc, char *err, size_t errlen);
void api_stop(struct service *svc);

/* One request, as a resource sees it. */
struct api_req {
    struct service *svc;
    struct MHD_Connection *conn;
    const char *method;
    char name[256], action[64]; /* path parameters {name}, {action} */
    const char *body;
    size_t body_len;
};

/* Replies: each returns what the MHD handler returns. api_reply_json takes
 * the object (NULL: no body). */
int api_reply_json(struct api_req *r, unsigned status, struct json_object *o);
int api_reply_error(struct api_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The body as a JSON object, or NULL with err set (malformed, not an
 * object, or empty unless empty_ok, which gives an empty object). */
struct json_object *api_body_object(const struct api_req *r, int empty_ok, char *err,
                                    size_t errlen);

/* The resources. */
int api_version_get(struct api_req *r);
int api_metrics_get(struct api_req *r);
int api_vms_list(struct api_req *r);
int api_vm_get(struct api_req *r);
int api_vm_put(struct api_req *r);
int api_vm_delete(struct api_req *r);
int api_vm_patch(struct api_req *r);
int api_vm_resize(struct api_req *r); /* balloon target, disk growth (vms.c) */
int api_vm_action(struct api_req *r);
int api_vm_snapshot(struct api_req *r); /* the whole VM to a file (snapshot.c) */
int api_vm_migrate(struct api_req *r);  /* live, to another vmon (migrate.c) */
int api_vm_logs(struct api_req *r);
int api_vm_console(struct api_req *r);
#endif
