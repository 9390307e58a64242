/* Snapshot files: a paused VM written out whole, and read back.
 *
 * Layout (all integers little-endian):
 *   0      header, SNAP_HDR_SIZE bytes: magic "VMONSNAP", format version,
 *          where the state and the RAM image lie, a CRC-32 of the state
 *          and one of the header itself;
 *   4096   the state: records [tag u32][instance u32][length u64][payload]
 *          (the machine's settings, each hart, each device by bus slot);
 *   ram_off  guest RAM, page-aligned and exactly ram_size bytes, with the
 *          pages that were all zero left as holes (a sparse file).
 * Restoring maps the RAM image copy-on-write (MAP_PRIVATE), so a restore
 * reads no memory up front, pages come in on first touch, and VMs restored
 * from one file share every page none of them has written (the host's
 * page cache). Everything read is checked: a short, corrupt, wrong-version
 * or inconsistent file is refused with a message saying what is wrong.
 *
 * Payloads are written and read with the snap_w / snap_r helpers below;
 * a reader never reads past its record and remembers the first error. */
#ifndef VMON_SNAP_H
#define VMON_SNAP_H
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC    "VMONSNAP"
#define SNAP_VERSION  1u
#define SNAP_HDR_SIZE 4096u
#define SNAP_TAG(a, b, c, d)                                                                       \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* A growing buffer of records. */
struct snap_w {
    uint8_t *buf;
    size_t len, cap;
    size_t rec; /* offset of the open record's header, or SIZE_MAX */
    int oom;
};

/* One record's payload being read. */
struct snap_r {
    const uint8_t *p;
    size_t len, pos;
    char err[160]; /* first problem, empty when none */
};

void snap_w_init(struct snap_w *w);
void snap_w_free(struct snap_w *w);
void snap_begin(struct snap_w *w, uint32_t tag, uint32_t instance);
void snap_end(struct snap_w *w);
void snap_put(struct snap_w *w, const void *p, size_t n);
void snap_u8(struct snap_w *w, uint8_t v);
void snap_u32(struct snap_w *w, uint32_t v);
void snap_u64(struct snap_w *w, uint64_t v);
void snap_str(struct snap_w *w, const char *s); /* u32 length + bytes */

/* Readers return 0 (and set r->err) once the record is exhausted. */
int snap_get(struct snap_r *r, void *p, size_t n);
uint8_t snap_get_u8(struct snap_r *r);
uint32_t snap_get_u32(struct snap_r *r);
uint64_t snap_get_u64(struct snap_r *r);
/* A string of at most max-1 bytes into out; 0 or -1. */
int snap_get_str(struct snap_r *r, char *out, size_t max);
/* Record a problem (the first one is kept); returns -1. */
int snap_fail(struct snap_r *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 if the record was read exactly and without error, else -1 (with err). */
int snap_done(struct snap_r *r);

/* The file. */
struct snap_file {
    int fd;
    uint64_t size;
    uint64_t ram_base, ram_size, ram_off;
    uint8_t *state; /* the state records, checked against their CRC */
    size_t state_len;
};

/* Write header, state and RAM to path (through path.tmp, renamed at the
 * end, so a VM mapping an older file at path keeps its pages). touched:
 * one byte per page, 0 for pages known to be zero (NULL: look at all).
 * 0, or -1 with err (and errno EACCES if path.tmp could not be made). */
int snap_write_file(const char *path, const struct snap_w *state, const uint8_t *ram,
                    const uint8_t *touched, uint64_t ram_base, uint64_t ram_size, char *err,
                    size_t errlen);
/* The same into fd, a file opened for writing (emptied first), synced
 * but not closed: its owner puts it in place. name is for messages. */
int snap_write_fd(int fd, const char *name, const struct snap_w *state, const uint8_t *ram,
                  const uint8_t *touched, uint64_t ram_base, uint64_t ram_size, char *err,
                  size_t errlen);
/* Open and check a snapshot file: header, version, sizes, state CRC. */
int snap_open(struct snap_file *f, const char *path, char *err, size_t errlen);
void snap_close(struct snap_file *f);
/* A state received another way (a migration stream): f takes state (a
 * malloc'd buffer of len bytes) after checking its records, with fd -1 and
 * the given RAM layout. 0, or -1 with err (state freed). */
int snap_from_state(struct snap_file *f, uint8_t *state, size_t len, uint64_t ram_base,
                    uint64_t ram_size, char *err, size_t errlen);
/* Find record (tag, instance): 0 with r set over its payload, -1 if none. */
int snap_find(const struct snap_file *f, uint32_t tag, uint32_t instance, struct snap_r *r);
/* Map the RAM image copy-on-write over ram (ram_size bytes, as mapped by
 * vm_create). 0 or -1 with err. */
int snap_map_ram(const struct snap_file *f, uint8_t *ram, char *err, size_t errlen);
#endif
