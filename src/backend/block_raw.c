/* Raw images: a regular file or a block device, byte for byte. Discard
 * punches holes; write-zeroes uses fallocate (PUNCH_HOLE or ZERO_RANGE)
 * and falls back to writing zeros where the file system cannot. */
#include "backend/block.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZERO_CHUNK (1u << 20)

struct raw {
    struct blk blk;
    int fd;
    uint64_t size;
    int probed; /* format was guessed: refuse writes that would change the guess */
    int no_punch, no_zero_range;
    uint8_t *zeros; /* ZERO_CHUNK bytes, allocated on first use */
};

static int raw_readv(struct blk *b, uint64_t off, const struct iovec *iov, int cnt)
{
    struct raw *r = (struct raw *)b;
    return blk_preadv_full(r->fd, off, iov, cnt);
}

static int raw_writev(struct blk *b, uint64_t off, const struct iovec *iov, int cnt)
{
    struct raw *r = (struct raw *)b;
    if (r->probed && off < 4) {
        /* An image opened without format= was probed as raw: a guest must
         * not turn it into something that probes as qcow2 next time (and
         * so gain access to host files through a backing file name). */
        uint8_t head[4] = {0};
        if (blk_pread_full(r->fd, 0, head, 4) < 0) memset(head, 0, sizeof(head));
        iov_to_buf(iov, cnt, 0, head + off, 4 - off);
        if (!memcmp(head, "QFI\xfb", 4)) return -EPERM;
    }
    return blk_pwritev_full(r->fd, off, iov, cnt);
}

static int raw_flush(struct blk *b)
{
    struct raw *r = (struct raw *)b;
    return fdatasync(r->fd) < 0 ? -errno : 0;
}

static int write_zero_bytes(struct raw *r, uint64_t off, uint64_t len)
{
    if (!r->zeros) {
        r->zeros = calloc(1, ZERO_CHUNK);
        if (!r->zeros) return -ENOMEM;
    }
    while (len) {
        size_t n = len > ZERO_CHUNK ? ZERO_CHUNK : (size_t)len;
        int e = blk_pwrite_full(r->fd, off, r->zeros, n);
        if (e < 0) return e;
        off += n;
        len -= n;
    }
    return 0;
}

static int unsupported(int e)
{
    return e == EOPNOTSUPP || e == ENOTSUP || e == ENOSYS || e == EINVAL || e == ENODEV;
}

static int raw_discard(struct blk *b, uint64_t off, uint64_t len)
{
    struct raw *r = (struct raw *)b;
    if (r->no_punch || !len) return 0; /* discard is a hint */
    if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0) {
        if (unsupported(errno)) {
            r->no_punch = 1;
            return 0;
        }
        return -errno;
    }
    return 0;
}

static int raw_write_zeroes(struct blk *b, uint64_t off, uint64_t len, int may_unmap)
{
    struct raw *r = (struct raw *)b;
    if (!len) return 0;
    if (may_unmap && !r->no_punch) {
        if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ==
            0)
            return 0;
        if (!unsupported(errno)) return -errno;
        r->no_punch = 1;
    }
    if (!r->no_zero_range) {
        if (fallocate(r->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ==
            0)
            return 0;
        if (!unsupported(errno)) return -errno;
        r->no_zero_range = 1;
    }
    return write_zero_bytes(r, off, len);
}

static uint64_t raw_size(struct blk *b)
{
    return ((struct raw *)b)->size;
}

static void raw_close(struct blk *b)
{
    struct raw *r = (struct raw *)b;
    close(r->fd);
    free(r->zeros);
    free(r->blk.path);
    free(r);
}

static void raw_info(struct blk *b, struct blk_info *info)
{
    struct raw *r = (struct raw *)b;
    struct stat st;
    if (fstat(r->fd, &st) == 0) info->disk_size = (uint64_t)st.st_blocks * 512;
}

static const struct blk_ops raw_ops = {
    .name = "raw",
    .readv = raw_readv,
    .writev = raw_writev,
    .flush = raw_flush,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
    .size = raw_size,
    .close = raw_close,
    .info = raw_info,
};

struct blk *raw_open_fd(int fd, const char *path, unsigned flags, int probed, char *err,
                        size_t errlen)
{
    struct stat st;
    uint64_t size;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
            snprintf(err, errlen, "%s: cannot get the device size: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
    } else {
        size = (uint64_t)st.st_size;
    }
    struct raw *r = calloc(1, sizeof(*r));
    if (!r || !(r->blk.path = strdup(path))) {
        free(r);
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->blk.ops = &raw_ops;
    r->blk.readonly = (flags & BLK_RDONLY) != 0;
    r->blk.discard_align = 4096;
    r->fd = fd;
    r->size = size;
    r->probed = probed;
    return &r->blk;
}

int raw_create(const char *path, uint64_t size, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (size > (uint64_t)INT64_MAX || ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "%s: cannot set the size: %s", path,
                 size > (uint64_t)INT64_MAX ? "too large" : strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

int raw_resize(struct blk *b, uint64_t size, char *err, size_t errlen)
{
    struct raw *r = (struct raw *)b;
    struct stat st;
    if (b->readonly) return snprintf(err, errlen, "image is read-only"), -EROFS;
    if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "only a regular file can be resized");
        return -EINVAL;
    }
    if (size > (uint64_t)INT64_MAX || ftruncate(r->fd, (off_t)size) < 0 || fsync(r->fd) < 0) {
        int e = errno ? errno : EFBIG;
        snprintf(err, errlen, "%s", strerror(e));
        return -e;
    }
    r->size = size;
    return 0;
}
