/* Loading libmicrohttpd (mhd.h). */
#include "api/mhd.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const sonames[] = {"libmicrohttpd.so.12", "libmicrohttpd.so"};

/* Resolve one symbol into *slot; 0 or -1. */
static int sym(struct mhd_lib *m, void *slot, const char *name)
{
    void *p = dlsym(m->handle, name);
    *(void **)slot = p;
    return p ? 0 : -1;
}

struct mhd_lib *mhd_load(char *err, size_t errlen)
{
    struct mhd_lib *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < sizeof(sonames) / sizeof(sonames[0]) && !m->handle; i++)
        m->handle = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
    int bad = !m->handle || sym(m, &m->start_daemon, "MHD_start_daemon") ||
              sym(m, &m->stop_daemon, "MHD_stop_daemon") ||
              sym(m, &m->quiesce_daemon, "MHD_quiesce_daemon") ||
              sym(m, &m->create_response_from_buffer, "MHD_create_response_from_buffer") ||
              sym(m, &m->create_response_for_upgrade, "MHD_create_response_for_upgrade") ||
              sym(m, &m->create_response_from_fd_at_offset64,
                  "MHD_create_response_from_fd_at_offset64") ||
              sym(m, &m->add_response_header, "MHD_add_response_header") ||
              sym(m, &m->queue_response, "MHD_queue_response") ||
              sym(m, &m->destroy_response, "MHD_destroy_response") ||
              sym(m, &m->lookup_connection_value, "MHD_lookup_connection_value") ||
              sym(m, &m->upgrade_action, "MHD_upgrade_action");
    if (bad) {
        snprintf(err, errlen, "cannot load libmicrohttpd (install libmicrohttpd12): %s", dlerror());
        mhd_unload(m);
        return NULL;
    }
    return m;
}

void mhd_unload(struct mhd_lib *m)
{
    if (!m) return;
    if (m->handle) dlclose(m->handle);
    free(m);
}
