/* Block backends: a virtual disk (a raw file or block device, a qcow2 image
 * with its backing chain) behind a tiny vtable, used by virtio-blk and by
 * `vmon img`. Offsets and lengths are in bytes; callers keep requests inside
 * blk_size(). Operations return 0 or a negative errno and never crash on a
 * corrupt image: a bad table entry found at run time fails the request. */
#ifndef VMON_BLOCK_H
#define VMON_BLOCK_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

enum blk_format {
    BLK_FMT_PROBE = 0, /* look at the file: qcow2 magic or raw */
    BLK_FMT_RAW,
    BLK_FMT_QCOW2,
};

/* blk_open flags */
#define BLK_RDONLY 1u
#define BLK_NOLOCK 2u /* do not take the image lock (img info) */
#define BLK_NOBACKING                                                                              \
    4u /* record the backing file but do not open it (img info);                                   \
        * reads of unallocated clusters then return zeros */

/* Deepest backing chain accepted (the top image counts as one). */
#define BLK_MAX_CHAIN 16
#define BLK_MAX_IOV   1100 /* iovec entries a request may have */

struct blk;

/* What `vmon img info` prints. */
struct blk_info {
    const char *format;
    int version;             /* qcow2 version, 0 for raw */
    uint64_t virtual_size;   /* bytes */
    uint64_t disk_size;      /* host bytes allocated to the file */
    uint32_t cluster_size;   /* 0 for raw */
    uint64_t allocated;      /* guest bytes stored in this image (qcow2) */
    char backing[1024];      /* as recorded in the image, "" if none */
    char backing_path[4096]; /* resolved path */
    char backing_fmt[32];
    int dirty, corrupt;
};

struct blk_ops {
    const char *name;
    int (*readv)(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt);
    int (*writev)(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt);
    /* Everything written so far is on stable storage (data and metadata). */
    int (*flush)(struct blk *b);
    /* The range may be deallocated; its contents become unspecified (but
     * never another image's or file's data). */
    int (*discard)(struct blk *b, uint64_t off, uint64_t len);
    /* The range reads as zeros afterwards; may_unmap lets the backend free
     * the space behind it. */
    int (*write_zeroes)(struct blk *b, uint64_t off, uint64_t len, int may_unmap);
    uint64_t (*size)(struct blk *b);
    void (*close)(struct blk *b);
    void (*info)(struct blk *b, struct blk_info *info);
};

/* Common part of every backend (embedded first in the backend's state). */
struct blk {
    const struct blk_ops *ops;
    char *path;
    int readonly;
    int lock_fd;            /* the descriptor holding the image lock, -1 none */
    uint32_t discard_align; /* bytes: the granularity discard works at */
};

/* Files already open in one backing chain (loop detection). */
struct blk_chain {
    unsigned depth;
    dev_t dev[BLK_MAX_CHAIN + 1];
    ino_t ino[BLK_MAX_CHAIN + 1];
    const char *path[BLK_MAX_CHAIN + 1];
};

/* Let go of (on = 0) or take again (on = 1) the image lock of an open
 * image, as a live migration hands the disk to another vmon. 0, or -1
 * with err (someone else holds it now). */
int blk_set_locked(struct blk *b, int on, char *err, size_t errlen);
/* Open an image; NULL with the reason in err on failure. */
struct blk *blk_open(const char *path, enum blk_format fmt, unsigned flags, char *err,
                     size_t errlen);
/* Used by backends to open their backing file (read-only, same chain). */
struct blk *blk_open_chain(const char *path, enum blk_format fmt, unsigned flags,
                           struct blk_chain *chain, char *err, size_t errlen);
/* Create an image of size bytes. backing (qcow2 only) is recorded as given
 * and resolved against the new image's directory; backing_fmt may be
 * BLK_FMT_PROBE (it is then probed and recorded). cluster_bits 0 = 16. */
int blk_create(const char *path, enum blk_format fmt, uint64_t size, const char *backing,
               enum blk_format backing_fmt, unsigned cluster_bits, char *err, size_t errlen);
/* Which format the file at fd looks like (qcow2 magic, else raw); a format
 * vmon does not read (VMDK, VDI, VHD/VHDX, QED, LUKS, compressed...) gives
 * -EMEDIUMTYPE with why naming it and the command that converts it. */
int blk_probe_format(int fd, enum blk_format *fmt, char *why, size_t whylen);
const char *blk_format_name(enum blk_format fmt);

/* `vmon img check`: every cluster's refcount against the references the
 * image's tables make. Leaks (refcount above the references) are repaired
 * when repair is set; errors (below) are only reported. Lines go to out. */
struct blk_check {
    uint64_t errors, leaks, repaired, clusters;
};
int qcow2_check(struct blk *b, int repair, FILE *out, struct blk_check *res);
/* Grow a qcow2 image's virtual size (the L1 table moves when it must). */
int qcow2_resize(struct blk *b, uint64_t size, char *err, size_t errlen);
int blk_parse_format(const char *name, enum blk_format *fmt);
/* Set the image's virtual size: a raw file's size, a qcow2 image's
 * (growing only). 0, or -1 with the reason in err. */
int blk_resize(struct blk *b, uint64_t size, char *err, size_t errlen);

static inline uint64_t blk_size(struct blk *b)
{
    return b->ops->size(b);
}
static inline int blk_readv(struct blk *b, uint64_t off, const struct iovec *iov, int n)
{
    return b->ops->readv(b, off, iov, n);
}
int blk_writev(struct blk *b, uint64_t off, const struct iovec *iov, int n);
int blk_read(struct blk *b, uint64_t off, void *buf, size_t len);
int blk_write(struct blk *b, uint64_t off, const void *buf, size_t len);
int blk_flush(struct blk *b);
int blk_discard(struct blk *b, uint64_t off, uint64_t len);
int blk_write_zeroes(struct blk *b, uint64_t off, uint64_t len, int may_unmap);
void blk_info(struct blk *b, struct blk_info *info);
void blk_close(struct blk *b);

/* Backends (block_raw.c, qcow2.c): open an already opened and locked fd
 * (the backend owns it from then on, also on failure). */
struct blk *raw_open_fd(int fd, const char *path, unsigned flags, int probed, char *err,
                        size_t errlen);
struct blk *qcow2_open_fd(int fd, const char *path, unsigned flags, struct blk_chain *chain,
                          char *err, size_t errlen);
int raw_create(const char *path, uint64_t size, char *err, size_t errlen);
/* Set a raw image file's size (growing leaves a sparse tail). */
int raw_resize(struct blk *b, uint64_t size, char *err, size_t errlen);
int qcow2_create(const char *path, uint64_t size, unsigned cluster_bits, const char *backing,
                 const char *backing_fmt, char *err, size_t errlen);

/* ---- helpers shared by the backends ---- */

/* Scatter-gather helpers. */
size_t iov_total(const struct iovec *iov, int cnt);
/* The part [off, off+len) of iov as at most max entries in out; returns the
 * count, or -1 when it needs more than max. */
int iov_slice(const struct iovec *iov, int cnt, size_t off, size_t len, struct iovec *out, int max);
void iov_memset(const struct iovec *iov, int cnt, size_t off, int c, size_t len);
size_t iov_to_buf(const struct iovec *iov, int cnt, size_t off, void *buf, size_t len);
/* preadv/pwritev of the whole iov at off, retrying short transfers; reads
 * past the end of the file return zeros. 0 or -errno. */
int blk_preadv_full(int fd, uint64_t off, const struct iovec *iov, int cnt);
int blk_pwritev_full(int fd, uint64_t off, const struct iovec *iov, int cnt);
int blk_pread_full(int fd, uint64_t off, void *buf, size_t len);
int blk_pwrite_full(int fd, uint64_t off, const void *buf, size_t len);
/* Resolve a backing file name against the directory of the image naming it
 * (absolute names are kept). Returns a malloc'd string or NULL. */
char *blk_resolve_backing(const char *image, const char *backing);

static inline uint16_t blk_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t blk_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t blk_be64(const uint8_t *p)
{
    return (uint64_t)blk_be32(p) << 32 | blk_be32(p + 4);
}
static inline void blk_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void blk_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void blk_put_be64(uint8_t *p, uint64_t v)
{
    blk_put_be32(p, (uint32_t)(v >> 32));
    blk_put_be32(p + 4, (uint32_t)v);
}
#endif
