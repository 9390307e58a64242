/* PUT /v1/vms/{name}/migrate: {"to": "unix:/abs/path" | "tcp:HOST:PORT",
 * "copy_disks": false}.
 * The worker of a running or paused VM migrates it live to a `vmon run
 * --incoming` there (an incoming VM of another service: vmon receive); the
 * answer is the migration's figures once the VM runs on the target and
 * its worker here has ended (state migrated). A migration that fails
 * leaves the VM running here (or paused, if it was). The request waits for
 * the worker, in its own connection's thread: the rest of the API goes on. */
#include "api/api.h"
#include "host/host.h"
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ENDED_WAIT_NS 10000000000ull /* the source's worker leaving after a migration */

/* The body's "to" (copied to to) and "copy_disks"; 0, or -1 with err. */
static int body_to(const struct api_req *r, char *to, size_t size, int *copy, char *err,
                   size_t errlen)
{
    json_object *o = api_body_object(r, 0, err, errlen), *v = NULL;
    if (!o) return -1;
    int bad = 0;
    *copy = 0;
    json_object_object_foreach(o, key, val)
    {
        if (!strcmp(key, "to")) {
            v = val;
        } else if (!strcmp(key, "copy_disks") && json_object_is_type(val, json_type_boolean)) {
            *copy = json_object_get_boolean(val);
        } else if (!bad++) {
            snprintf(err, errlen,
                     !strcmp(key, "copy_disks") ? "copy_disks: want true or false"
                                                : "unknown field '%.64s' (a migration takes to "
                                                  "and copy_disks)",
                     key);
        }
    }
    if (!bad && (!v || !json_object_is_type(v, json_type_string) ||
                 (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v))))
        bad = snprintf(err, errlen, "to: want the target's address (unix:PATH or tcp:HOST:PORT)");
    if (!bad) snprintf(to, size, "%s", json_object_get_string(v));
    json_object_put(o);
    return bad || vmdef_check_addr("to", to, 0, 1, err, errlen) < 0 ? -1 : 0;
}

/* Once migrated, the worker ends: its state, once it has (or after a
 * while). */
static json_object *state_after(struct service *svc, const char *name)
{
    pthread_mutex_lock(&svc->lock);
    uint64_t give_up = host_now_ns() + ENDED_WAIT_NS;
    struct host_vm *vm;
    while ((vm = host_vm_find(svc, name)) && vm->pid && host_now_ns() < give_up) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&svc->changed, &svc->lock, &ts);
    }
    json_object *s = json_object_new_string(vm ? host_state_name(vm->state) : "deleted");
    pthread_mutex_unlock(&svc->lock);
    return s;
}

/* "ok migrated to ADDR: R rounds, N pages, X MiB, total T ms, downtime D ms"
 * (ADDR has no spaces or ": "), as JSON. */
static json_object *figures(const char *to, const char *reply)
{
    const char *p = strstr(reply, ": ");
    unsigned rounds = 0;
    unsigned long long pages = 0;
    double mib = 0, total = 0, down = 0;
    if (p)
        sscanf(p + 2, "%u rounds, %llu pages, %lf MiB, total %lf ms, downtime %lf ms", &rounds,
               &pages, &mib, &total, &down);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "to", json_object_new_string(to));
    json_object_object_add(o, "rounds", json_object_new_int((int)rounds));
    json_object_object_add(o, "pages", json_object_new_int64((int64_t)pages));
    json_object_object_add(o, "sent_mib", host_json_num(mib));
    json_object_object_add(o, "total_ms", host_json_num(total));
    json_object_object_add(o, "downtime_ms", host_json_num(down));
    return o;
}

int api_vm_migrate(struct api_req *r)
{
    char err[512], to[VMDEF_ADDR_MAX + 2], reply[320];
    int copy;
    if (body_to(r, to, sizeof(to), &copy, err, sizeof(err)) < 0)
        return api_reply_error(r, 400, "%s", err);
    int rc = host_vm_migrate(r->svc, r->name, to, copy, reply, sizeof(reply), err, sizeof(err));
    if (rc != HOST_OK) return api_reply_error(r, (unsigned)rc, "%s", err);
    if (strncmp(reply, "ok ", 3))
        return api_reply_error(r, 500, "cannot migrate VM %s to %s: %s; it runs on here", r->name,
                               to, strncmp(reply, "error ", 6) ? reply : reply + 6);
    host_log("VM %s: %s", r->name, reply + 3);
    json_object *o = figures(to, reply);
    json_object_object_add(o, "state", state_after(r->svc, r->name));
    return api_reply_json(r, 200, o);
}
