/* PUT /v1/vms/{name}/snapshot: {"file": "/abs/path"}. The worker of a
 * running or paused VM writes the whole VM there (its control channel's
 * snapshot PATH, with the file the service opened for it: the VM is paused
 * for the write and runs on unless it was paused); the answer is the
 * file, the time it took and its size. */
#include "api/api.h"
#include "host/host.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The control channel takes lines of 255 bytes: "snapshot " and the path. */
#define SNAP_PATH_MAX 240

/* path must be absolute, printable, short enough, in an existing directory
 * and not a directory itself: PATH.tmp is written, then renamed. */
static int check_path(const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f) {
            snprintf(err, errlen, "file holds a control character");
            return -1;
        }
    }
    if (path[0] != '/' || n > SNAP_PATH_MAX || path[n - 1] == '/') {
        snprintf(err, errlen, "file '%.64s%s': want an absolute file path of at most %d bytes",
                 path, n > 64 ? "..." : "", SNAP_PATH_MAX);
        return -1;
    }
    char dir[SNAP_PATH_MAX + 1];
    snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
    struct stat st;
    if (stat(dir[0] ? dir : "/", &st) < 0) {
        snprintf(err, errlen, "file %s: %s: %s", path, dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "file %s: %s is not a directory", path, dir);
        return -1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "file %s is a directory", path);
        return -1;
    }
    return 0;
}

/* The body's file (copied to path) and overlay; 0, or -1 with err. */
static int body_file(const struct api_req *r, char *path, size_t size, int *overlay, char *err,
                     size_t errlen)
{
    json_object *o = api_body_object(r, 0, err, errlen), *v = NULL;
    if (!o) return -1;
    int bad = 0;
    *overlay = 0;
    json_object_object_foreach(o, key, val)
    {
        if (!strcmp(key, "file")) {
            v = val;
        } else if (!strcmp(key, "overlay") && json_object_is_type(val, json_type_boolean)) {
            *overlay = json_object_get_boolean(val);
        } else if (!bad++) {
            snprintf(err, errlen,
                     !strcmp(key, "overlay") ? "overlay: want true or false"
                                             : "unknown field '%.64s' (a snapshot takes file and "
                                               "overlay)",
                     key);
        }
    }
    if (!bad && (!v || !json_object_is_type(v, json_type_string) ||
                 (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v))))
        bad = snprintf(err, errlen, "file: want the snapshot's absolute path (a string)");
    if (!bad) snprintf(path, size, "%s", json_object_get_string(v));
    json_object_put(o);
    return bad || check_path(path, err, errlen) < 0 ? -1 : 0;
}

/* Long enough to write the VM's RAM on a slow disk: a minute, and a second
 * more for every 128 MiB. */
static int snapshot_timeout_ms(struct service *svc, const char *name)
{
    pthread_mutex_lock(&svc->lock);
    struct host_vm *vm = host_vm_find(svc, name);
    uint64_t mem = vm ? vm->def.mem : 0;
    pthread_mutex_unlock(&svc->lock);
    return 60000 + (int)(mem >> 27) * 1000;
}

/* "ok saved PATH in T ms": T, in seconds. */
static double reply_seconds(const char *reply)
{
    const char *in = NULL;
    for (const char *p = strstr(reply, " in "); p; p = strstr(p + 1, " in "))
        in = p;
    return in ? strtod(in + 4, NULL) / 1e3 : 0;
}

/* The worker writes into path.tmp, which the service opens for it (a
 * sandboxed worker cannot open paths outside what it was given) and puts
 * in place once the snapshot is whole: 0, or -1 with err. */
static int snapshot_into(struct api_req *r, const char *path, int overlay, char *reply, size_t size,
                         char *err, size_t errlen)
{
    char tmp[SNAP_PATH_MAX + 8], cmd[SNAP_PATH_MAX + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(cmd, sizeof(cmd), "snapshot %s%s", overlay ? "--overlay " : "", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot snapshot VM %s: %s: %s", r->name, tmp, strerror(errno));
        return HOST_FAILED;
    }
    int rc = host_vm_request_fd(r->svc, r->name, "snapshot", cmd, fd,
                                snapshot_timeout_ms(r->svc, r->name), reply, size, err, errlen);
    close(fd);
    if (rc == HOST_OK && strncmp(reply, "ok ", 3)) {
        snprintf(err, errlen, "cannot snapshot VM %s: %s", r->name,
                 strncmp(reply, "error ", 6) ? reply : reply + 6);
        rc = HOST_FAILED;
    }
    if (rc == HOST_OK && rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot snapshot VM %s: renaming %s to %s: %s", r->name, tmp, path,
                 strerror(errno));
        rc = HOST_FAILED;
    }
    if (rc != HOST_OK) unlink(tmp);
    return rc;
}

int api_vm_snapshot(struct api_req *r)
{
    char err[1200], path[SNAP_PATH_MAX + 2], reply[320];
    int overlay;
    if (body_file(r, path, sizeof(path), &overlay, err, sizeof(err)) < 0)
        return api_reply_error(r, 400, "%s", err);
    int rc = host_vm_can_request(r->svc, r->name, "snapshot", err, sizeof(err));
    if (rc == HOST_OK) rc = snapshot_into(r, path, overlay, reply, sizeof(reply), err, sizeof(err));
    if (rc != HOST_OK) return api_reply_error(r, (unsigned)rc, "%s", err);
    host_log("VM %s: snapshot in %s", r->name, path);
    struct stat st;
    if (stat(path, &st) < 0) memset(&st, 0, sizeof(st));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "file", json_object_new_string(path));
    json_object_object_add(o, "seconds", host_json_num(reply_seconds(reply)));
    json_object_object_add(o, "size_bytes", json_object_new_int64((int64_t)st.st_size));
    json_object_object_add(o, "allocated_bytes",
                           json_object_new_int64((int64_t)st.st_blocks * 512));
    return api_reply_json(r, 200, o);
}
