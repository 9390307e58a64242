/* /v1/vms and /v1/vms/{name}: list, create (PUT a definition, or one that
 * restores a snapshot or receives a live migration), show and delete VMs. */
#include "api/api.h"
#include "host/host.h"
#include "snap/vmsnap.h"
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

int api_vms_list(struct api_req *r)
{
    json_object *list = json_object_new_array();
    pthread_mutex_lock(&r->svc->lock);
    for (const struct host_vm *vm = r->svc->vms; vm; vm = vm->next)
        json_object_array_add(list, host_vm_json(r->svc, vm, 0));
    pthread_mutex_unlock(&r->svc->lock);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "vms", list);
    return api_reply_json(r, 200, o);
}

/* A VM with restore: the `vmon run` options its snapshot holds, as
 * snapshot_options (or why they cannot be read, as snapshot_error). */
static void add_snapshot_options(json_object *o)
{
    json_object *config, *file;
    if (!json_object_object_get_ex(o, "config", &config) ||
        !json_object_object_get_ex(config, "restore", &file))
        return;
    struct snap_file f = {.fd = -1};
    char **args = NULL, err[400];
    unsigned n = 0;
    if (snap_open(&f, json_object_get_string(file), err, sizeof(err)) < 0 ||
        vmsnap_args(&f, &args, &n, err, sizeof(err)) < 0) {
        json_object_object_add(o, "snapshot_error", json_object_new_string(err));
    } else {
        json_object *a = json_object_new_array();
        for (unsigned i = 0; i < n; i++)
            json_object_array_add(a, json_object_new_string(args[i]));
        json_object_object_add(o, "snapshot_options", a);
    }
    vmsnap_free_args(args, n);
    snap_close(&f);
}

/* The VM as it is now, with status (or 404 if it went away). */
static int reply_vm(struct api_req *r, unsigned status)
{
    host_vm_refresh_vcpus(r->svc, r->name); /* from its worker: not under the lock */
    pthread_mutex_lock(&r->svc->lock);
    struct host_vm *vm = host_vm_find(r->svc, r->name);
    json_object *o = vm ? host_vm_json(r->svc, vm, 1) : NULL;
    pthread_mutex_unlock(&r->svc->lock);
    if (!o) return api_reply_error(r, 404, "no VM named '%.64s'", r->name);
    add_snapshot_options(o); /* a file read: not under the service's lock */
    return api_reply_json(r, status, o);
}

int api_vm_get(struct api_req *r)
{
    return reply_vm(r, 200);
}

/* A definition with restore is the snapshot's machine: its mem and cpus
 * (given ones must be the same), engine and on_panic unless given. */
static int adopt_snapshot(struct vm_def *d, json_object *o, char *err, size_t errlen)
{
    struct vm_def m;
    vmdef_init(&m);
    if (vmdef_snapshot_machine(d->restore, &m, err, errlen) < 0) return -1;
    json_object *v;
    if ((json_object_object_get_ex(o, "mem", &v) && d->mem != m.mem) ||
        (json_object_object_get_ex(o, "cpus", &v) && d->cpus != m.cpus)) {
        snprintf(err, errlen,
                 "the snapshot's machine has %llu MiB and %u vCPU(s); a restored VM keeps them "
                 "(leave mem and cpus out)",
                 (unsigned long long)(m.mem >> 20), m.cpus);
        return -1;
    }
    d->mem = m.mem;
    d->cpus = m.cpus;
    if (!json_object_object_get_ex(o, "engine", &v)) d->engine = m.engine;
    if (!json_object_object_get_ex(o, "on_panic", &v)) d->on_panic = m.on_panic;
    return 0;
}

/* A definition with incoming is the source's machine: its mem, cpus,
 * engine and on_panic come with the migration. */
static int check_incoming(json_object *o, char *err, size_t errlen)
{
    static const char *const keys[] = {"mem", "cpus", "engine", "on_panic"};
    json_object *v;
    for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!json_object_object_get_ex(o, keys[i], &v)) continue;
        snprintf(err, errlen,
                 "incoming takes the source's machine, its %s too: leave out mem, cpus, engine "
                 "and on_panic",
                 keys[i]);
        return -1;
    }
    return 0;
}

int api_vm_put(struct api_req *r)
{
    char err[512];
    if (vmdef_check_name(r->name, err, sizeof(err)) < 0) return api_reply_error(r, 400, "%s", err);
    json_object *o = api_body_object(r, 0, err, sizeof(err));
    if (!o) return api_reply_error(r, 400, "%s", err);
    struct vm_def d;
    vmdef_init(&d);
    int rc = vmdef_from_json(&d, o, err, sizeof(err)) < 0 ? HOST_BAD : HOST_OK;
    if (rc == HOST_OK && d.restore && adopt_snapshot(&d, o, err, sizeof(err)) < 0) rc = HOST_BAD;
    if (rc == HOST_OK && d.incoming && check_incoming(o, err, sizeof(err)) < 0) rc = HOST_BAD;
    json_object_put(o);
    if (rc == HOST_OK && d.name[0] && strcmp(d.name, r->name)) {
        snprintf(err, sizeof(err), "the body's name '%s' is not the path's '%s'", d.name, r->name);
        rc = HOST_BAD;
    }
    snprintf(d.name, sizeof(d.name), "%.*s", VMDEF_NAME_MAX, r->name); /* checked above */
    if (rc == HOST_OK) rc = host_create(r->svc, &d, err, sizeof(err));
    if (rc != HOST_OK) {
        vmdef_free(&d); /* the registry took it otherwise */
        return api_reply_error(r, (unsigned)rc, "%s", err);
    }
    return reply_vm(r, 201);
}

int api_vm_delete(struct api_req *r)
{
    char err[512];
    int rc = host_delete(r->svc, r->name, err, sizeof(err));
    if (rc != HOST_OK) return api_reply_error(r, (unsigned)rc, "%s", err);
    return api_reply_json(r, 204, NULL);
}

/* Which of PATCH's fields the body has (has[]), or -1 with err set. */
static int patch_fields(json_object *o, int *has, char *err, size_t errlen)
{
    static const char *const keys[4] = {"weight", "cap", "pin", "mem_limit"};
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        unsigned k = 0;
        while (k < 4 && strcmp(key, keys[k]))
            k++;
        if (k == 4) {
            snprintf(err, errlen,
                     "'%.64s' cannot change while the VM exists (PATCH changes weight, cap and "
                     "pin, and mem_limit while it is stopped)",
                     key);
            return -1;
        }
        has[k] = 1;
    }
    return 0;
}

/* PATCH /v1/vms/{name}: change weight, cap and pin, live; mem_limit while
 * the VM is stopped (first: a refusal changes nothing). */
int api_vm_patch(struct api_req *r)
{
    char err[512];
    json_object *o = api_body_object(r, 0, err, sizeof(err));
    if (!o) return api_reply_error(r, 400, "%s", err);
    int has[4] = {0, 0, 0, 0};
    struct vm_def d;
    vmdef_init(&d);
    int rc = patch_fields(o, has, err, sizeof(err)) < 0 ? HOST_BAD : HOST_OK;
    if (rc == HOST_OK && vmdef_from_json(&d, o, err, sizeof(err)) < 0) rc = HOST_BAD;
    json_object_put(o);
    if (rc == HOST_OK && has[3])
        rc = host_set_mem_limit(r->svc, r->name, d.mem_limit, err, sizeof(err));
    if (rc == HOST_OK && (has[0] || has[1] || has[2]))
        rc = host_set_sched(r->svc, r->name, &d, has[0], has[1], has[2], err, sizeof(err));
    vmdef_free(&d);
    if (rc != HOST_OK) return api_reply_error(r, (unsigned)rc, "%s", err);
    return reply_vm(r, 200);
}

/* A size from JSON: a string as the CLI takes it ("1.5G", "512": MiB) or
 * an integer of MiB; 0, or -1 with err set. */
static int json_size(json_object *v, const char *key, char *out, size_t size, char *err,
                     size_t errlen)
{
    if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0) {
        snprintf(out, size, "%lldM", (long long)json_object_get_int64(v));
        return 0;
    }
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || !*s || strlen(s) > 32 || strspn(s, "0123456789.KMGTkmgtBb") != strlen(s)) {
        snprintf(err, errlen, "'%s' must be a size (\"512M\", \"2G\" or MiB as an integer)", key);
        return -1;
    }
    snprintf(out, size, "%s", s);
    return 0;
}

/* PUT /v1/vms/{name}/resize: {"mem": SIZE} asks the guest (its balloon) to
 * keep SIZE of its RAM; {"disk": N, "size": SIZE} grows disk N while the
 * guest runs; {"cpus": N} lets N of its vCPUs run (SBI HSM starts no more
 * than that; the guest onlines or offlines them). The worker does it; its
 * refusal comes back as 400. */
int api_vm_resize(struct api_req *r)
{
    char err[512], cmd[96], size[40], reply[256];
    json_object *o = api_body_object(r, 0, err, sizeof(err));
    if (!o) return api_reply_error(r, 400, "%s", err);
    json_object *mem = NULL, *disk = NULL, *dsize = NULL, *cpus = NULL;
    int bad = 0;
    json_object_object_foreach(o, key, val)
    {
        if (!strcmp(key, "mem"))
            mem = val;
        else if (!strcmp(key, "disk"))
            disk = val;
        else if (!strcmp(key, "size"))
            dsize = val;
        else if (!strcmp(key, "cpus"))
            cpus = val;
        else if (!bad++)
            snprintf(err, sizeof(err), "unknown field '%.64s' (mem, cpus, or disk and size)", key);
    }
    int what = !!mem + !!disk + !!cpus;
    if (!bad && what != 1)
        bad = snprintf(err, sizeof(err), "%s",
                       what ? "mem, cpus and disk in one request: resize one at a time"
                            : "nothing to resize: give mem, cpus, or disk and size");
    if (!bad && cpus &&
        (!json_object_is_type(cpus, json_type_int) || json_object_get_int64(cpus) < 1 ||
         json_object_get_int64(cpus) > 64))
        bad = snprintf(err, sizeof(err), "'cpus' must be the number of vCPUs to run, 1..64");
    if (!bad && cpus)
        snprintf(cmd, sizeof(cmd), "cpus-online %lld", (long long)json_object_get_int64(cpus));
    if (!bad && mem && dsize)
        bad = snprintf(err, sizeof(err), "'size' goes with 'disk'; 'mem' is the size itself");
    if (!bad && disk &&
        (!json_object_is_type(disk, json_type_int) || !dsize || json_object_get_int64(disk) < 0 ||
         json_object_get_int64(disk) > 64))
        bad = snprintf(err, sizeof(err),
                       "'disk' must be a disk number (0 is the first --disk) "
                       "with a 'size'");
    if (!bad && mem) bad = json_size(mem, "mem", size, sizeof(size), err, sizeof(err)) < 0;
    if (!bad && disk) bad = json_size(dsize, "size", size, sizeof(size), err, sizeof(err)) < 0;
    if (!bad && mem) snprintf(cmd, sizeof(cmd), "balloon %s", size);
    if (!bad && disk)
        snprintf(cmd, sizeof(cmd), "disk-resize %lld %s", (long long)json_object_get_int64(disk),
                 size);
    json_object_put(o);
    if (bad) return api_reply_error(r, 400, "%s", err);
    int rc = host_vm_request(r->svc, r->name, "resize", cmd, 10000, reply, sizeof(reply), err,
                             sizeof(err));
    if (rc != HOST_OK) return api_reply_error(r, (unsigned)rc, "%s", err);
    if (strncmp(reply, "ok ", 3))
        return api_reply_error(r, 400, "%s", strncmp(reply, "error ", 6) ? reply : reply + 6);
    json_object *res = json_object_new_object();
    json_object_object_add(res, "result", json_object_new_string(reply + 3));
    return api_reply_json(r, 200, res);
}
