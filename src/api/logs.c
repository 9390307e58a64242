/* GET /v1/vms/{name}/logs: the VM's serial console (text/plain): the ring
 * of its last output the service keeps, or for a console written to a
 * file, the last LOG_MAX bytes of that file. */
#include "api/api.h"
#include "host/host.h"
#include <fcntl.h>
#include "api/mhd.h"
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MAX (4ull << 20)

static int reply_text(struct api_req *r, struct MHD_Response *resp)
{
    if (!resp) return MHD_NO;
    const struct mhd_lib *m = r->svc->mhd;
    m->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    int ret = m->queue_response(r->conn, 200, resp);
    m->destroy_response(resp);
    atomic_fetch_add(&r->svc->requests, 1);
    return ret;
}

int api_vm_logs(struct api_req *r)
{
    char path[PATH_MAX] = "", *ring = NULL;
    size_t ring_len = 0;
    pthread_mutex_lock(&r->svc->lock);
    struct host_vm *vm = host_vm_find(r->svc, r->name);
    if (vm && host_console_is_ours(&vm->def))
        ring = host_console_ring(vm, &ring_len);
    else if (vm && strcmp(vm->def.console, "none"))
        snprintf(path, sizeof(path), "%s", vm->def.console);
    pthread_mutex_unlock(&r->svc->lock);
    if (!vm) return api_reply_error(r, 404, "no VM named '%.64s'", r->name);
    if (ring)
        return reply_text(
            r, r->svc->mhd->create_response_from_buffer(ring_len, ring, MHD_RESPMEM_MUST_FREE));
    int fd = path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) < 0) {
        close(fd);
        fd = -1;
    }
    struct MHD_Response *resp;
    if (fd < 0) {
        resp = r->svc->mhd->create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    } else {
        uint64_t size = (uint64_t)st.st_size, off = size > LOG_MAX ? size - LOG_MAX : 0;
        resp = r->svc->mhd->create_response_from_fd_at_offset64(size - off, fd, off);
    }
    return reply_text(r, resp);
}
