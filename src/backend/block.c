/* Block backend front door: opening (format probing, image locking, backing
 * chain loop and depth checks), creation, and the helpers the raw and qcow2
 * backends share. */
#include "backend/block.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define QCOW2_MAGIC_BYTES "QFI\xfb"

const char *blk_format_name(enum blk_format fmt)
{
    switch (fmt) {
    case BLK_FMT_RAW: return "raw";
    case BLK_FMT_QCOW2: return "qcow2";
    default: return "probe";
    }
}

int blk_parse_format(const char *name, enum blk_format *fmt)
{
    if (!strcmp(name, "raw")) {
        *fmt = BLK_FMT_RAW;
        return 0;
    }
    if (!strcmp(name, "qcow2")) {
        *fmt = BLK_FMT_QCOW2;
        return 0;
    }
    return -1;
}

int blk_probe_format(int fd, enum blk_format *fmt)
{
    uint8_t magic[4];
    ssize_t n;
    do {
        n = pread(fd, magic, sizeof(magic), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    *fmt = (n == 4 && !memcmp(magic, QCOW2_MAGIC_BYTES, 4)) ? BLK_FMT_QCOW2 : BLK_FMT_RAW;
    return 0;
}

char *blk_resolve_backing(const char *image, const char *backing)
{
    if (backing[0] == '/') return strdup(backing);
    const char *slash = strrchr(image, '/');
    if (!slash) return strdup(backing);
    size_t dirlen = (size_t)(slash - image) + 1;
    size_t blen = strlen(backing);
    char *p = malloc(dirlen + blen + 1);
    if (!p) return NULL;
    memcpy(p, image, dirlen);
    memcpy(p + dirlen, backing, blen + 1);
    return p;
}

struct blk *blk_open_chain(const char *path, enum blk_format fmt, unsigned flags,
                           struct blk_chain *chain, char *err, size_t errlen)
{
    if (chain->depth >= BLK_MAX_CHAIN) {
        snprintf(err, errlen, "%s: backing chain deeper than %d images", path, BLK_MAX_CHAIN);
        return NULL;
    }
    int ro = (flags & BLK_RDONLY) != 0;
    int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES || errno == EROFS) {
            snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
                     ro ? "" : " (add ,ro to use it read-only)");
        } else {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        }
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file or block device", path);
        close(fd);
        return NULL;
    }
    for (unsigned i = 0; i < chain->depth; i++) {
        if (chain->dev[i] == st.st_dev && chain->ino[i] == st.st_ino) {
            snprintf(err, errlen,
                     "backing file loop: %s (backing file of %s) is already in "
                     "the chain",
                     path, chain->path[chain->depth - 1]);
            close(fd);
            return NULL;
        }
    }
    if (!(flags & BLK_NOLOCK) && flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            snprintf(err, errlen, "%s: image is in use (locked by another user of it)", path);
        else
            snprintf(err, errlen, "%s: cannot lock: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    int probed = 0;
    if (fmt == BLK_FMT_PROBE) {
        int r = blk_probe_format(fd, &fmt);
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(-r));
            close(fd);
            return NULL;
        }
        probed = 1;
    }
    chain->dev[chain->depth] = st.st_dev;
    chain->ino[chain->depth] = st.st_ino;
    chain->path[chain->depth] = path;
    chain->depth++;
    struct blk *b;
    if (fmt == BLK_FMT_QCOW2)
        b = qcow2_open_fd(fd, path, flags, chain, err, errlen);
    else
        b = raw_open_fd(fd, path, flags, probed, err, errlen);
    chain->depth--;
    return b;
}

struct blk *blk_open(const char *path, enum blk_format fmt, unsigned flags, char *err,
                     size_t errlen)
{
    struct blk_chain chain;
    memset(&chain, 0, sizeof(chain));
    return blk_open_chain(path, fmt, flags, &chain, err, errlen);
}

int blk_create(const char *path, enum blk_format fmt, uint64_t size, const char *backing,
               enum blk_format backing_fmt, unsigned cluster_bits, char *err, size_t errlen)
{
    if (fmt == BLK_FMT_RAW) {
        if (backing) {
            snprintf(err, errlen, "a raw image cannot have a backing file (use qcow2)");
            return -1;
        }
        return raw_create(path, size, err, errlen);
    }
    if (fmt != BLK_FMT_QCOW2) {
        snprintf(err, errlen, "unknown image format");
        return -1;
    }
    if (backing && backing_fmt == BLK_FMT_PROBE) {
        /* Record the format explicitly so it is never re-probed later. */
        char *bpath = blk_resolve_backing(path, backing);
        if (!bpath) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        struct blk *b = blk_open(bpath, BLK_FMT_PROBE, BLK_RDONLY | BLK_NOLOCK, err, errlen);
        if (!b) {
            free(bpath);
            return -1;
        }
        backing_fmt = strcmp(b->ops->name, "qcow2") ? BLK_FMT_RAW : BLK_FMT_QCOW2;
        blk_close(b);
        free(bpath);
    }
    return qcow2_create(path, size, cluster_bits ? cluster_bits : 16, backing,
                        backing ? blk_format_name(backing_fmt) : NULL, err, errlen);
}

int blk_writev(struct blk *b, uint64_t off, const struct iovec *iov, int n)
{
    if (b->readonly) return -EROFS;
    return b->ops->writev(b, off, iov, n);
}

int blk_read(struct blk *b, uint64_t off, void *buf, size_t len)
{
    struct iovec v = {buf, len};
    return b->ops->readv(b, off, &v, 1);
}

int blk_write(struct blk *b, uint64_t off, const void *buf, size_t len)
{
    struct iovec v = {(void *)buf, len};
    return blk_writev(b, off, &v, 1);
}

int blk_flush(struct blk *b)
{
    return b->ops->flush(b);
}

int blk_discard(struct blk *b, uint64_t off, uint64_t len)
{
    if (b->readonly) return -EROFS;
    return b->ops->discard(b, off, len);
}

int blk_write_zeroes(struct blk *b, uint64_t off, uint64_t len, int may_unmap)
{
    if (b->readonly) return -EROFS;
    return b->ops->write_zeroes(b, off, len, may_unmap);
}

void blk_info(struct blk *b, struct blk_info *info)
{
    memset(info, 0, sizeof(*info));
    info->format = b->ops->name;
    info->virtual_size = blk_size(b);
    b->ops->info(b, info);
}

void blk_close(struct blk *b)
{
    if (b) b->ops->close(b);
}

/* ---- scatter-gather helpers ---- */

size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t n = 0;
    for (int i = 0; i < cnt; i++)
        n += iov[i].iov_len;
    return n;
}

int iov_slice(const struct iovec *iov, int cnt, size_t off, size_t len, struct iovec *out, int max)
{
    int k = 0;
    for (int i = 0; i < cnt && len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t n = iov[i].iov_len - off;
        if (n > len) n = len;
        if (k >= max) return -1;
        out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
        out[k].iov_len = n;
        k++;
        len -= n;
        off = 0;
    }
    return k;
}

void iov_memset(const struct iovec *iov, int cnt, size_t off, int c, size_t len)
{
    for (int i = 0; i < cnt && len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t n = iov[i].iov_len - off;
        if (n > len) n = len;
        memset((uint8_t *)iov[i].iov_base + off, c, n);
        len -= n;
        off = 0;
    }
}

size_t iov_to_buf(const struct iovec *iov, int cnt, size_t off, void *buf, size_t len)
{
    size_t done = 0;
    for (int i = 0; i < cnt && done < len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t n = iov[i].iov_len - off;
        if (n > len - done) n = len - done;
        memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off, n);
        done += n;
        off = 0;
    }
    return done;
}

/* Transfer the whole iov, continuing after short transfers. */
static int xfer_full(int fd, uint64_t off, const struct iovec *iov, int cnt, int write)
{
    struct iovec local[64];
    size_t total = iov_total(iov, cnt), done = 0;
    if (off > (uint64_t)INT64_MAX || total > (uint64_t)INT64_MAX - off) return -EINVAL;
    while (done < total) {
        /* The next (at most 64) entries from byte `done` on. */
        int n = 0;
        size_t skip = done;
        for (int i = 0; i < cnt && n < 64; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            local[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
            local[n].iov_len = iov[i].iov_len - skip;
            skip = 0;
            n++;
        }
        ssize_t r = write ? pwritev(fd, local, n, (off_t)(off + done))
                          : preadv(fd, local, n, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (r == 0) {
            if (write) return -EIO;
            iov_memset(iov, cnt, done, 0, total - done); /* past the end of the file */
            return 0;
        }
        done += (size_t)r;
    }
    return 0;
}

int blk_preadv_full(int fd, uint64_t off, const struct iovec *iov, int cnt)
{
    return xfer_full(fd, off, iov, cnt, 0);
}

int blk_pwritev_full(int fd, uint64_t off, const struct iovec *iov, int cnt)
{
    return xfer_full(fd, off, iov, cnt, 1);
}

int blk_pread_full(int fd, uint64_t off, void *buf, size_t len)
{
    struct iovec v = {buf, len};
    return xfer_full(fd, off, &v, 1, 0);
}

int blk_pwrite_full(int fd, uint64_t off, const void *buf, size_t len)
{
    struct iovec v = {(void *)buf, len};
    return xfer_full(fd, off, &v, 1, 1);
}
