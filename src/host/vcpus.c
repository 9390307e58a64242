/* Per-vCPU figures (the vcpus array of GET /v1/vms/NAME, vmon show): each
 * vCPU's state, the host CPU time of its thread, the guest instructions it
 * retired and its steal time. They are asked of a running or paused VM's
 * worker (its control channel's "vcpus") when the API shows the VM, after
 * a short request in flight; while the channel is busy with a long one (a
 * snapshot, a migration) the figures last read stand. */
#include "host/host.h"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VCPUS_MAX       64   /* VM_MAX_CPUS */
#define VCPUS_REPLY_MAX 8192 /* the worker's longest reply */
#define VCPUS_WAIT_MS   250  /* for a short request in flight (the scheduler's "stats") */

/* KEY=VALUE of one vCPU; keys a newer worker may add are skipped. 0, or
 * -1 if the value is not what the key wants. */
static int vcpu_field(struct host_vcpu *v, const char *key, const char *val)
{
    if (!strcmp(key, "state")) {
        snprintf(v->state, sizeof(v->state), "%s", val);
        return 0;
    }
    uint64_t *dst = !strcmp(key, "cpu_ns")     ? &v->cpu_ns
                    : !strcmp(key, "insns")    ? &v->insns
                    : !strcmp(key, "steal_ns") ? &v->steal_ns
                                               : NULL;
    if (!dst) return 0;
    char *end;
    unsigned long long x = strtoull(val, &end, 10);
    if (end == val || *end) return -1;
    *dst = x;
    return 0;
}

/* "ok vcpu0 state=running cpu_ns=N insns=N steal_ns=N vcpu1 ..." (changed
 * in place) into out: how many vCPUs, or -1 if it is no such reply. */
static int parse_vcpus(char *reply, struct host_vcpu *out, unsigned max)
{
    if (strncmp(reply, "ok", 2) || (reply[2] && reply[2] != ' ')) return -1;
    unsigned n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(reply + 2, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        unsigned id;
        char extra;
        if (!eq && sscanf(tok, "vcpu%u%c", &id, &extra) == 1 && id == n && n < max) {
            memset(&out[n++], 0, sizeof(*out));
            continue;
        }
        if (!eq || !n) return -1;
        *eq = 0;
        if (vcpu_field(&out[n - 1], tok, eq + 1) < 0) return -1;
    }
    return (int)n;
}

void host_vm_refresh_vcpus(struct service *svc, const char *name)
{
    pthread_mutex_lock(&svc->lock);
    struct host_vm *vm = host_vm_find(svc, name);
    int ask = vm && vm->pid && (vm->state == HVM_RUNNING || vm->state == HVM_PAUSED);
    if (ask) vm->refs++; /* not deleted meanwhile */
    pthread_mutex_unlock(&svc->lock);
    if (!ask) return;
    char *reply = malloc(VCPUS_REPLY_MAX);
    struct host_vcpu *v = calloc(VCPUS_MAX, sizeof(*v));
    int n = -1;
    if (reply && v &&
        host_worker_try_request_for(vm, "vcpus", reply, VCPUS_REPLY_MAX, VCPUS_WAIT_MS) == HOST_OK)
        n = parse_vcpus(reply, v, VCPUS_MAX);
    pthread_mutex_lock(&svc->lock);
    if (n >= 0) {
        free(vm->vcpus);
        vm->vcpus = v;
        vm->nvcpus = (unsigned)n;
        v = NULL;
    }
    vm->refs--;
    pthread_mutex_unlock(&svc->lock);
    free(v);
    free(reply);
}

json_object *host_vm_vcpus_json(const struct host_vm *vm)
{
    json_object *a = json_object_new_array();
    for (unsigned i = 0; vm->pid && i < vm->nvcpus; i++) {
        const struct host_vcpu *v = &vm->vcpus[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int((int)i));
        json_object_object_add(o, "state", json_object_new_string(v->state));
        json_object_object_add(o, "cpu_time", host_json_num((double)v->cpu_ns / 1e9));
        json_object_object_add(o, "insns", json_object_new_int64((int64_t)v->insns));
        json_object_object_add(o, "steal_time", host_json_num((double)v->steal_ns / 1e9));
        json_object_array_add(a, o);
    }
    return a;
}
