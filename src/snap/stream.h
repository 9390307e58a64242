/* Stream I/O for live migration (migrate.c, migdisk.c): whole sends and
 * receives on a socket (0, or -1 with errno; a peer that closed is
 * ECONNRESET), little-endian integers of n bytes. */
#ifndef VMON_SNAP_STREAM_H
#define VMON_SNAP_STREAM_H
#include <stddef.h>
#include <stdint.h>

int send_all(int fd, const void *p, size_t n);
int recv_all(int fd, void *p, size_t n);
void put_le(uint8_t *p, uint64_t v, unsigned n);
uint64_t get_le(const uint8_t *p, unsigned n);
int recv_le(int fd, uint64_t *v, unsigned n);
#endif
