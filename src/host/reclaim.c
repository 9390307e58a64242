/* Reclaim under memory pressure (`vmon serve --reclaim-at SIZE`).
 *
 * Pressure: the VMs' workers hold more than SIZE (their RSS added up), or
 * the host has less than a twentieth of its memory available. Then, once a
 * second, the service takes memory back in the order that costs the guests
 * least:
 *   1. free memory the guest does not use: a VM with a balloon is asked to
 *      give up what its own statistics report free (keeping a reserve);
 *   2. duplicate pages: VMs with share_pages are scanned four times faster;
 *      and translated code: each VM drops its code caches (an idle VM's are
 *      mostly the boot's code, half of what it holds);
 *   3. hypervisor swap: a VM with a mem_limit gets a lower limit, and its
 *      coldest pages go to its swap file.
 * Each balloon is asked once per episode of pressure (by what its guest
 * reported free, which the guest may not even have touched); limits are
 * lowered only once the balloons have had a few seconds, a quarter of
 * what the VM holds at a time, down to a quarter of its own limit. When the VMs hold an eighth less
 * than SIZE again, what was taken is given back: balloons deflate by what they were inflated,
 * limits go back to the definitions'. Every action is logged. */
#include "host/host.h"
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RECLAIM_INTERVAL_NS 1000000000ull
#define COOLDOWN_NS         3000000000ull /* a VM acted on gets this long to give */
#define BALLOON_RESERVE_MIB 24            /* free memory a guest keeps */
#define MIN_STEP_MIB        4
#define LIMIT_FLOOR_MIB     16

struct rvm {
    struct host_vm *vm;
    uint64_t rss;
};

/* MemAvailable is under a twentieth of MemTotal. */
static int host_short(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    unsigned long long total = 0, avail = 0, v;
    char line[128];
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemTotal: %llu kB", &v) == 1) total = v;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) avail = v;
    }
    if (f) fclose(f);
    return total && avail && avail < total / 20;
}

/* A number after key in a control-channel reply, or -1. */
static long long reply_num(const char *reply, const char *key)
{
    const char *p = strstr(reply, key);
    long long v;
    return p && sscanf(p + strlen(key), " %lld", &v) == 1 ? v : -1;
}

static int request(struct host_vm *vm, const char *cmd, char *reply, size_t size)
{
    return host_worker_try_request(vm, cmd, reply, size) == HOST_OK && !strncmp(reply, "ok", 2);
}

/* 1: balloons, each once per episode of pressure, by what its guest's
 * latest statistics report free. Returns MiB asked of guests. */
static uint64_t balloon_step(struct service *svc, struct rvm *v, unsigned n, uint64_t need_mib)
{
    uint64_t asked = 0;
    char reply[320], cmd[64];
    for (unsigned i = 0; i < n && asked < need_mib; i++) {
        struct host_vm *vm = v[i].vm;
        if (!vm->def.balloon || vm->reclaim.ballooned ||
            !request(vm, "balloon", reply, sizeof(reply)))
            continue;
        long long given = reply_num(reply, "given"), free_mib = reply_num(reply, "guest free");
        if (given < 0 || reply_num(reply, "statistics") <= 0) continue; /* no figures yet */
        vm->reclaim.ballooned = 1;
        if (free_mib < BALLOON_RESERVE_MIB + MIN_STEP_MIB) continue; /* nothing to give */
        uint64_t take = (uint64_t)free_mib - BALLOON_RESERVE_MIB;
        if (take > need_mib - asked) take = need_mib - asked;
        uint64_t keep = (vm->def.mem >> 20) - (uint64_t)given - take;
        snprintf(cmd, sizeof(cmd), "balloon %lluM", (unsigned long long)keep);
        if (!request(vm, cmd, reply, sizeof(reply))) continue;
        vm->reclaim.balloon_mib += take;
        asked += take;
        svc->reclaim_actions++;
        host_log("reclaim: VM %s: balloon takes %llu MiB its guest does not use (keeps %llu MiB)",
                 vm->def.name, (unsigned long long)take, (unsigned long long)keep);
    }
    return asked;
}

/* 2: translated code: each VM drops its code caches once per episode
 * (what runs again is translated again; an idle VM's cache is mostly the
 * boot's code). Returns how many did. */
static unsigned code_step(struct service *svc, struct rvm *v, unsigned n)
{
    char reply[320];
    unsigned done = 0;
    for (unsigned i = 0; i < n; i++) {
        struct host_vm *vm = v[i].vm;
        if (vm->reclaim.code_dropped || !request(vm, "jit-flush", reply, sizeof(reply))) continue;
        vm->reclaim.code_dropped = 1;
        svc->reclaim_actions++;
        done++;
        host_log("reclaim: VM %s: its translated code dropped (%llu MiB resident before)",
                 vm->def.name, (unsigned long long)(v[i].rss >> 20));
    }
    return done;
}

/* 3: lower memory limits, by a quarter of what each holds at most per
 * step, and not below a quarter of the limit it was given. */
static void limit_step(struct service *svc, struct rvm *v, unsigned n, uint64_t need_mib,
                       uint64_t now)
{
    char reply[320], cmd[64];
    for (unsigned i = 0; i < n && need_mib; i++) {
        struct host_vm *vm = v[i].vm;
        if (!vm->def.mem_limit || now < vm->reclaim.next_ns ||
            !request(vm, "mem-limit", reply, sizeof(reply)))
            continue;
        long long limit = reply_num(reply, "mem-limit"), resident = reply_num(reply, "resident");
        if (limit < 0 || resident < 0) continue;
        uint64_t from = (uint64_t)(resident < limit ? resident : limit);
        uint64_t step = from / 4 > MIN_STEP_MIB ? from / 4 : MIN_STEP_MIB;
        uint64_t floor = vm->def.mem_limit >> 22; /* a quarter of its own limit */
        if (floor < LIMIT_FLOOR_MIB) floor = LIMIT_FLOOR_MIB;
        if (step > need_mib) step = need_mib;
        uint64_t to = from > step + floor ? from - step : floor;
        if (to >= (uint64_t)limit) continue;
        snprintf(cmd, sizeof(cmd), "mem-limit %lluM", (unsigned long long)to);
        if (!request(vm, cmd, reply, sizeof(reply))) continue;
        vm->reclaim.limit_mib = to;
        vm->reclaim.next_ns = now + COOLDOWN_NS;
        need_mib = need_mib > from - to ? need_mib - (from - to) : 0;
        svc->reclaim_actions++;
        host_log("reclaim: VM %s: memory limit %lld -> %llu MiB (its coldest pages to swap)",
                 vm->def.name, limit, (unsigned long long)to);
    }
}

/* The pressure is over: give back what was taken. */
static void give_back(struct service *svc, struct rvm *v, unsigned n)
{
    char reply[320], cmd[64];
    for (unsigned i = 0; i < n; i++) {
        struct host_vm *vm = v[i].vm;
        if (vm->reclaim.balloon_mib && request(vm, "balloon", reply, sizeof(reply))) {
            long long given = reply_num(reply, "given");
            uint64_t back = vm->reclaim.balloon_mib;
            if (given >= 0 && back > (uint64_t)given) back = (uint64_t)given;
            snprintf(cmd, sizeof(cmd), "balloon %lluM",
                     (unsigned long long)((vm->def.mem >> 20) - (uint64_t)(given > 0 ? given : 0) +
                                          back));
            if (given >= 0 && request(vm, cmd, reply, sizeof(reply))) {
                host_log("reclaim: VM %s: balloon gives back %llu MiB", vm->def.name,
                         (unsigned long long)back);
                vm->reclaim.balloon_mib = 0;
            }
        }
        vm->reclaim.ballooned = 0;
        vm->reclaim.code_dropped = 0;
        if (vm->reclaim.limit_mib) {
            snprintf(cmd, sizeof(cmd), "mem-limit %lluB", (unsigned long long)vm->def.mem_limit);
            if (request(vm, cmd, reply, sizeof(reply))) {
                host_log("reclaim: VM %s: memory limit back to %llu MiB", vm->def.name,
                         (unsigned long long)(vm->def.mem_limit >> 20));
                vm->reclaim.limit_mib = 0;
            }
        }
    }
}

/* Once a second: is there pressure, and what to take or give back. */
static void tick(struct service *svc, struct rvm *v, unsigned n, uint64_t total)
{
    uint64_t at = svc->reclaim_at, now = host_now_ns();
    int short_now = host_short();
    if ((at && total > at) || short_now) {
        if (!svc->pressure)
            host_log("reclaim: memory pressure (VMs hold %llu MiB%s): reclaiming",
                     (unsigned long long)(total >> 20), short_now ? ", the host is short" : "");
        svc->pressure = 1;
    } else if (svc->pressure && (!at || total < at - at / 8)) {
        host_log("reclaim: pressure over (VMs hold %llu MiB): giving memory back",
                 (unsigned long long)(total >> 20));
        svc->pressure = 0;
    }
    atomic_store(&svc->share_boost, svc->pressure ? 4 : 1);
    if (!svc->pressure) {
        give_back(svc, v, n);
        return;
    }
    uint64_t need = at && total > at ? (total - at + at / 16) >> 20 : 64;
    /* Swap only once the balloons and the code caches have given what they
     * had, and had time to. */
    if (balloon_step(svc, v, n, need) || code_step(svc, v, n))
        svc->swap_after_ns = now + COOLDOWN_NS;
    else if (now >= svc->swap_after_ns)
        limit_step(svc, v, n, need, now);
}

void *host_reclaim_thread(void *arg)
{
    struct service *svc = arg;
    while (!atomic_load(&svc->quit)) {
        struct rvm v[64];
        unsigned n = 0;
        uint64_t total = 0;
        pthread_mutex_lock(&svc->lock);
        for (struct host_vm *vm = svc->vms; vm && n < 64; vm = vm->next) {
            if (!vm->pid || vm->state != HVM_RUNNING) continue;
            vm->refs++;
            v[n].vm = vm;
            v[n++].rss = vm->used.rss_kb << 10;
            total += vm->used.rss_kb << 10;
        }
        pthread_mutex_unlock(&svc->lock);
        tick(svc, v, n, total);
        pthread_mutex_lock(&svc->lock);
        for (unsigned i = 0; i < n; i++)
            v[i].vm->refs--;
        pthread_mutex_unlock(&svc->lock);
        struct timespec ts = {RECLAIM_INTERVAL_NS / 1000000000ull, 0};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

struct json_object *host_reclaim_json(const struct service *svc)
{
    json_object *o = json_object_new_object();
    json_object_object_add(
        o, "at", svc->reclaim_at ? json_object_new_int64((int64_t)svc->reclaim_at) : NULL);
    json_object_object_add(o, "pressure", json_object_new_boolean(svc->pressure));
    json_object_object_add(o, "actions", json_object_new_int64((int64_t)svc->reclaim_actions));
    return o;
}

struct json_object *host_vm_reclaim_json(const struct host_vm *vm)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "balloon",
                           json_object_new_int64((int64_t)vm->reclaim.balloon_mib << 20));
    json_object_object_add(
        o, "limit",
        vm->reclaim.limit_mib ? json_object_new_int64((int64_t)vm->reclaim.limit_mib << 20) : NULL);
    return o;
}
