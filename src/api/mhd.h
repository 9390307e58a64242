/* libmicrohttpd, loaded by the service when its API starts instead of
 * linked into vmon: it brings GnuTLS and friends, whose loading cost every
 * vmon process, VM workers and restores included, about 4 ms at start.
 * Call through the table (svc->mhd->queue_response(...)). */
#ifndef VMON_API_MHD_H
#define VMON_API_MHD_H
#include <microhttpd.h>
#include <stddef.h>

struct mhd_lib {
    void *handle;
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_quiesce_daemon) *quiesce_daemon;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_create_response_for_upgrade) *create_response_for_upgrade;
    __typeof__(MHD_create_response_from_fd_at_offset64) *create_response_from_fd_at_offset64;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_upgrade_action) *upgrade_action;
};

/* A table with every function, or NULL with err (the library is missing). */
struct mhd_lib *mhd_load(char *err, size_t errlen);
void mhd_unload(struct mhd_lib *m);
#endif
