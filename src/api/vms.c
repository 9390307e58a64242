/* /v1/vms and /v1/vms/{name}: list, create (PUT a definition), show and
 * delete VMs. */
#include "api/api.h"
#include "host/host.h"
#include <json-c/json.h>
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

/* The VM as it is now, with status (or 404 if it went away). */
static int reply_vm(struct api_req *r, unsigned status)
{
    pthread_mutex_lock(&r->svc->lock);
    struct host_vm *vm = host_vm_find(r->svc, r->name);
    json_object *o = vm ? host_vm_json(r->svc, vm, 1) : NULL;
    pthread_mutex_unlock(&r->svc->lock);
    if (!o) return api_reply_error(r, 404, "no VM named '%.64s'", r->name);
    return api_reply_json(r, status, o);
}

int api_vm_get(struct api_req *r)
{
    return reply_vm(r, 200);
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

/* PATCH /v1/vms/{name}: change weight, cap and pin, live. */
int api_vm_patch(struct api_req *r)
{
    char err[512];
    json_object *o = api_body_object(r, 0, err, sizeof(err));
    if (!o) return api_reply_error(r, 400, "%s", err);
    int has[3] = {0, 0, 0};
    static const char *const keys[3] = {"weight", "cap", "pin"};
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        unsigned k = 0;
        while (k < 3 && strcmp(key, keys[k]))
            k++;
        if (k == 3) {
            snprintf(
                err, sizeof(err),
                "'%.64s' cannot change while the VM exists (PATCH changes weight, cap and pin)",
                key);
            json_object_put(o);
            return api_reply_error(r, 400, "%s", err);
        }
        has[k] = 1;
    }
    struct vm_def d;
    vmdef_init(&d);
    int rc = vmdef_from_json(&d, o, err, sizeof(err)) < 0 ? HOST_BAD : HOST_OK;
    json_object_put(o);
    if (rc == HOST_OK)
        rc = host_set_sched(r->svc, r->name, &d, has[0], has[1], has[2], err, sizeof(err));
    vmdef_free(&d);
    if (rc != HOST_OK) return api_reply_error(r, (unsigned)rc, "%s", err);
    return reply_vm(r, 200);
}
