/* GET /v1/metrics: the service's counters, the host's memory and what the
 * VMs commit and use, and every VM's live figures. */
#include "api/api.h"
#include "host/host.h"
#include <json-c/json.h>

static json_object *vm_figures(const struct host_vm *vm)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(vm->def.name));
    json_object_object_add(o, "state", json_object_new_string(host_state_name(vm->state)));
    json_object_object_add(o, "cpu_pct", host_json_num(vm->pid ? vm->cpu_pct : 0));
    json_object_object_add(o, "cpu_time", host_json_num(vm->cpu_secs));
    json_object_object_add(o, "starts", json_object_new_int((int)vm->starts));
    json_object_object_add(o, "crashes", json_object_new_int((int)vm->crashes));
    json_object_object_add(o, "memory", host_vm_memory_json(vm));
    json_object_object_add(o, "io", host_vm_io_json(vm));
    return o;
}

/* The host's memory and what the VMs commit and use (svc->lock held). */
static json_object *host_memory(struct service *svc)
{
    json_object *o = json_object_new_object();
    uint64_t rss = 0;
    for (const struct host_vm *vm = svc->vms; vm; vm = vm->next)
        if (vm->pid) rss += vm->used.rss_kb << 10;
    json_object_object_add(o, "host", json_object_new_int64((int64_t)svc->host_mem));
    json_object_object_add(o, "overcommit", host_json_num(svc->overcommit));
    json_object_object_add(
        o, "admissible",
        svc->overcommit > 0
            ? json_object_new_int64((int64_t)(svc->overcommit * (double)svc->host_mem))
            : NULL);
    json_object_object_add(o, "committed", json_object_new_int64((int64_t)host_committed(svc)));
    json_object_object_add(o, "rss", json_object_new_int64((int64_t)rss));
    json_object_object_add(o, "sharing", host_share_pool_json(svc));
    json_object_object_add(o, "reclaim", host_reclaim_json(svc));
    return o;
}

int api_metrics_get(struct api_req *r)
{
    struct service *svc = r->svc;
    json_object *o = json_object_new_object(), *states = json_object_new_object();
    json_object *vms = json_object_new_array();
    int count[HVM_NSTATES] = {0}, total = 0;
    double cpu = 0;
    pthread_mutex_lock(&svc->lock);
    for (const struct host_vm *vm = svc->vms; vm; vm = vm->next) {
        count[vm->state]++;
        total++;
        if (vm->pid) cpu += vm->cpu_pct;
        json_object_array_add(vms, vm_figures(vm));
    }
    json_object_object_add(o, "workers_started", json_object_new_int((int)svc->workers_started));
    json_object_object_add(o, "workers_crashed", json_object_new_int((int)svc->workers_crashed));
    json_object_object_add(o, "memory", host_memory(svc));
    pthread_mutex_unlock(&svc->lock);
    for (int s = 0; s < HVM_NSTATES; s++)
        json_object_object_add(states, host_state_name(s), json_object_new_int(count[s]));
    double up = (double)(host_now_ns() - svc->started_ns) / 1e9;
    json_object_object_add(o, "uptime", host_json_num(up));
    json_object_object_add(o, "vms_total", json_object_new_int(total));
    json_object_object_add(o, "vms_by_state", states);
    json_object_object_add(o, "cpu_pct", host_json_num(cpu));
    json_object_object_add(o, "requests", json_object_new_int64((int64_t)svc->requests));
    json_object_object_add(o, "client_errors", json_object_new_int64((int64_t)svc->client_errors));
    json_object_object_add(o, "server_errors", json_object_new_int64((int64_t)svc->server_errors));
    json_object_object_add(o, "vms", vms);
    return api_reply_json(r, 200, o);
}
