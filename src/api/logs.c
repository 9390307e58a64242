/* GET /v1/vms/{name}/logs: the VM's serial console log (text/plain; the
 * last LOG_MAX bytes of it). */
#include "api/api.h"
#include "host/host.h"
#include <fcntl.h>
#include <microhttpd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MAX (4ull << 20)

int api_vm_logs(struct api_req *r)
{
    char path[PATH_MAX] = "";
    pthread_mutex_lock(&r->svc->lock);
    struct host_vm *vm = host_vm_find(r->svc, r->name);
    if (vm) {
        const char *con = vm->def.console;
        if (!con || !strcmp(con, "log"))
            host_log_path(r->svc, vm->def.name, "console.log", path, sizeof(path));
        else if (strcmp(con, "none"))
            snprintf(path, sizeof(path), "%s", con);
    }
    pthread_mutex_unlock(&r->svc->lock);
    if (!vm) return api_reply_error(r, 404, "no VM named '%.64s'", r->name);
    int fd = path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) < 0) {
        close(fd);
        fd = -1;
    }
    struct MHD_Response *resp;
    if (fd < 0) {
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    } else {
        uint64_t size = (uint64_t)st.st_size, off = size > LOG_MAX ? size - LOG_MAX : 0;
        resp = MHD_create_response_from_fd_at_offset64(size - off, fd, off);
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    int ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    atomic_fetch_add(&r->svc->requests, 1);
    return ret;
}
