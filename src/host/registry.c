/* The VM registry and its state directory: DIR/NAME.json holds each VM's
 * definition (written to a temporary file and renamed over, so a crash
 * leaves the old or the new one), DIR/logs/ the console and worker logs.
 * A definition that does not parse is reported and skipped, never touched. */
#include "host/host.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEF_FILE_MAX (64u << 10)

const char *host_state_name(int state)
{
    static const char *const names[] = {"stopped",  "starting", "running",  "paused",
                                        "stopping", "crashed",  "incoming", "migrated"};
    return state >= 0 && state < HVM_NSTATES ? names[state] : "unknown";
}

struct host_vm *host_vm_find(struct service *svc, const char *name)
{
    for (struct host_vm *vm = svc->vms; vm; vm = vm->next)
        if (!strcmp(vm->def.name, name)) return vm;
    return NULL;
}

void host_vm_free(struct host_vm *vm)
{
    if (!vm) return;
    if (vm->ctl_fd >= 0) close(vm->ctl_fd);
    pthread_mutex_destroy(&vm->ctl_lock);
    host_console_destroy(&vm->con);
    host_share_free(vm);
    vmdef_free(&vm->def);
    free(vm->vcpus);
    free(vm);
}

void host_log_path(const struct service *svc, const char *name, const char *kind, char *buf,
                   size_t size)
{
    snprintf(buf, size, "%s/%s.%s", svc->log_dir, name, kind);
}

/* Insert in name order (svc->lock held, or before the service runs). */
static void registry_insert(struct service *svc, struct host_vm *vm)
{
    struct host_vm **p = &svc->vms;
    while (*p && strcmp((*p)->def.name, vm->def.name) < 0)
        p = &(*p)->next;
    vm->next = *p;
    *p = vm;
}

static struct host_vm *host_vm_new(const struct vm_def *d)
{
    struct host_vm *vm = calloc(1, sizeof(*vm));
    if (!vm) return NULL;
    vm->def = *d;
    vm->ctl_fd = -1;
    pthread_mutex_init(&vm->ctl_lock, NULL);
    host_console_init(&vm->con);
    return vm;
}

/* Read a whole small file; NULL with err set. */
static char *read_small(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > DEF_FILE_MAX) {
        snprintf(err, errlen, "not a regular file of at most %u bytes", DEF_FILE_MAX);
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "%s", buf ? strerror(errno) : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* Parse one definition file into d; -1 with err set. */
static int load_one(const char *path, const char *stem, struct vm_def *d, char *err, size_t errlen)
{
    size_t len;
    char *text = read_small(path, &len, err, errlen);
    if (!text) return -1;
    enum json_tokener_error jerr;
    json_object *o = json_tokener_parse_verbose(text, &jerr);
    free(text);
    if (!o) {
        snprintf(err, errlen, "malformed JSON: %s", json_tokener_error_desc(jerr));
        return -1;
    }
    int r = vmdef_from_json(d, o, err, errlen);
    json_object_put(o);
    if (r == 0 && strcmp(d->name, stem)) {
        snprintf(err, errlen, "its name '%s' is not its file's name", d->name);
        r = -1;
    }
    if (r == 0) r = vmdef_check(d, err, errlen);
    return r;
}

void host_registry_load(struct service *svc)
{
    DIR *dir = opendir(svc->state_dir);
    if (!dir) {
        host_log("state directory %s: %s", svc->state_dir, strerror(errno));
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json")) continue;
        char stem[256], path[PATH_MAX], err[512];
        snprintf(stem, sizeof(stem), "%.*s", (int)(n - 5), e->d_name);
        snprintf(path, sizeof(path), "%s/%s", svc->state_dir, e->d_name);
        struct vm_def d;
        vmdef_init(&d);
        struct host_vm *vm = NULL;
        if (load_one(path, stem, &d, err, sizeof(err)) < 0 || !(vm = host_vm_new(&d))) {
            host_log("%s: %s; skipped (the file is left as it is)", path,
                     vm ? "out of memory" : err);
            vmdef_free(&d);
            continue;
        }
        registry_insert(svc, vm);
        host_log("VM %s: loaded%s", d.name, d.autostart ? " (autostart)" : "");
    }
    closedir(dir);
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write d to DIR/NAME.json atomically (temporary file, fsync, rename). */
int host_registry_save(struct service *svc, const struct vm_def *d, char *err, size_t errlen)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/.%s.json.XXXXXX", svc->state_dir, d->name);
    snprintf(path, sizeof(path), "%s/%s.json", svc->state_dir, d->name);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write to the state directory %s: %s", svc->state_dir,
                 strerror(errno));
        return -1;
    }
    json_object *o = vmdef_to_json(d);
    const char *text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    int r = write_all(fd, text, strlen(text)) | write_all(fd, "\n", 1);
    json_object_put(o);
    if (r < 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot save %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    int dfd = open(svc->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void host_registry_remove(struct service *svc, struct host_vm *vm)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s.json", svc->state_dir, vm->def.name);
    if (unlink(path) < 0 && errno != ENOENT) host_log("%s: %s", path, strerror(errno));
    host_log_path(svc, vm->def.name, "console.log", path, sizeof(path));
    unlink(path);
    host_log_path(svc, vm->def.name, "log", path, sizeof(path));
    unlink(path);
    for (struct host_vm **p = &svc->vms; *p; p = &(*p)->next) {
        if (*p == vm) {
            *p = vm->next;
            break;
        }
    }
}

/* Insert a new VM into the registry (svc->lock held). */
struct host_vm *host_registry_add(struct service *svc, const struct vm_def *d)
{
    struct host_vm *vm = host_vm_new(d);
    if (vm) registry_insert(svc, vm);
    return vm;
}

json_object *host_json_num(double v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%.3f", v);
    return json_object_new_double_s(v, buf);
}

static void add_num(json_object *o, const char *key, double v)
{
    json_object_object_add(o, key, host_json_num(v));
}

static json_object *bytes_or_null(int has, uint64_t v)
{
    return has ? json_object_new_int64((int64_t)v) : NULL;
}

json_object *host_vm_memory_json(const struct host_vm *vm)
{
    json_object *o = json_object_new_object();
    int swap = vm->pid && vm->used.swap;
    json_object_object_add(o, "mem", json_object_new_int64((int64_t)vm->def.mem));
    json_object_object_add(o, "mem_limit", bytes_or_null(vm->def.mem_limit, vm->def.mem_limit));
    json_object_object_add(o, "committed", json_object_new_int64((int64_t)host_vm_committed(vm)));
    json_object_object_add(o, "rss",
                           json_object_new_int64(vm->pid ? (int64_t)vm->used.rss_kb << 10 : 0));
    json_object_object_add(o, "guest_resident",
                           bytes_or_null(swap, vm->used.guest_resident_kb << 10));
    json_object_object_add(o, "swapped_out",
                           json_object_new_int64(swap ? (int64_t)vm->used.swap_out : 0));
    json_object_object_add(o, "swapped_in",
                           json_object_new_int64(swap ? (int64_t)vm->used.swap_in : 0));
    json_object_object_add(o, "sharing", host_share_json(vm));
    json_object_object_add(o, "reclaimed", host_vm_reclaim_json(vm));
    return o;
}

json_object *host_vm_io_json(const struct host_vm *vm)
{
    json_object *o = json_object_new_object();
    for (unsigned i = 0; i < HIO_N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "%s_per_sec", host_io_names[i]);
        uint64_t v = vm->pid ? vm->io[i] : 0; /* as the worker said: clamped for JSON */
        json_object_object_add(o, host_io_names[i],
                               json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
        add_num(o, key, vm->pid ? vm->io_rate[i] : 0);
    }
    return o;
}

/* What confines its worker (null without one, or before it said). */
static json_object *isolation_json(const struct host_vm *vm)
{
    if (!vm->pid || !vm->isolation.known) return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "seccomp", json_object_new_boolean(vm->isolation.seccomp));
    json_object_object_add(o, "filesystem", json_object_new_string(vm->isolation.filesystem));
    json_object_object_add(o, "detail", json_object_new_string(vm->isolation.detail));
    return o;
}

json_object *host_vm_json(const struct service *svc, const struct host_vm *vm, int full)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(vm->def.name));
    json_object_object_add(o, "state", json_object_new_string(host_state_name(vm->state)));
    if (vm->reason[0]) json_object_object_add(o, "reason", json_object_new_string(vm->reason));
    json_object_object_add(o, "cpus", json_object_new_int((int)vm->def.cpus));
    json_object_object_add(o, "mem_bytes", json_object_new_int64((int64_t)vm->def.mem));
    json_object_object_add(o, "rss_bytes",
                           json_object_new_int64(vm->pid ? (int64_t)vm->used.rss_kb << 10 : 0));
    double up = vm->pid ? (double)(host_now_ns() - vm->started_ns) / 1e9 : 0;
    add_num(o, "uptime", up);
    add_num(o, "cpu_pct", vm->pid ? vm->cpu_pct : 0);
    json_object_object_add(o, "pid", json_object_new_int(vm->pid));
    json_object_object_add(o, "autostart", json_object_new_boolean(vm->def.autostart));
    add_num(o, "mips", vm->pid ? vm->mips : 0);
    add_num(o, "cpu_time", vm->cpu_secs);
    json_object_object_add(o, "insns", json_object_new_int64((int64_t)vm->insns));
    json_object_object_add(o, "io", host_vm_io_json(vm));
    if (!full) return o;
    json_object_object_add(o, "weight", json_object_new_int((int)vm->def.weight));
    json_object_object_add(o, "cap", json_object_new_int((int)vm->def.cap));
    json_object_object_add(o, "pin", json_object_new_string(vm->def.pin ? vm->def.pin : ""));
    json_object_object_add(o, "cap_effective",
                           json_object_new_int((int)(vm->pid ? vm->cap_sent : 0)));
    add_num(o, "guest_cpu_time", (double)vm->guest_cpu_ns / 1e9);
    add_num(o, "steal_time", (double)vm->steal_ns / 1e9);
    json_object_object_add(o, "vcpus", host_vm_vcpus_json(vm));
    json_object_object_add(o, "isolation", isolation_json(vm));
    json_object_object_add(o, "memory", host_vm_memory_json(vm));
    json_object_object_add(o, "starts", json_object_new_int((int)vm->starts));
    json_object_object_add(o, "crashes", json_object_new_int((int)vm->crashes));
    char path[PATH_MAX];
    host_log_path(svc, vm->def.name, "console.log", path, sizeof(path));
    json_object_object_add(o, "console_log", json_object_new_string(path));
    host_log_path(svc, vm->def.name, "log", path, sizeof(path));
    json_object_object_add(o, "worker_log", json_object_new_string(path));
    json_object_object_add(o, "config", vmdef_to_json(&vm->def));
    return o;
}
