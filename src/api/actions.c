/* PUT /v1/vms/{name}/actions/{start|pause|resume|shutdown|stop|reboot}:
 * the body is empty or {}; the answer is the VM once the action is done. */
#include "api/api.h"
#include "host/host.h"
#include <json-c/json.h>

int api_vm_action(struct api_req *r)
{
    char err[512];
    json_object *o = api_body_object(r, 1, err, sizeof(err));
    if (!o) return api_reply_error(r, 400, "%s", err);
    int fields = json_object_object_length(o);
    json_object_put(o);
    if (fields) return api_reply_error(r, 400, "an action takes no fields (send {} or nothing)");
    int rc = host_action(r->svc, r->name, r->action, err, sizeof(err));
    if (rc != HOST_OK) return api_reply_error(r, (unsigned)rc, "%s", err);
    return api_vm_get(r);
}
