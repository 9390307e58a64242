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

int blk_resize(struct blk *b, uint64_t size, char *err, size_t errlen)
{
    return !strcmp(b->ops->name, "qcow2") ? qcow2_resize(b, size, err, errlen)
                                          : raw_resize(b, size, err, errlen);
}

/* Formats vmon does not read, by their magic (as qemu-img names them), so
 * that none is ever taken for raw. off < 0 counts from the end of the file. */
static const struct foreign {
    long off;
    const char *magic;
    size_t len;
    const char *name, *fix;
} foreign[] = {
    {0, "KDMV", 4, "VMDK", "qemu-img convert -f vmdk -O qcow2"},
    {0, "COWD", 4, "VMDK (ESX)", "qemu-img convert -f vmdk -O qcow2"},
    {0, "# Disk DescriptorFile", 21, "VMDK descriptor", "qemu-img convert -f vmdk -O qcow2"},
    {0x40, "\x7f\x10\xda\xbe", 4, "VDI (VirtualBox)", "qemu-img convert -f vdi -O qcow2"},
    {0, "vhdxfile", 8, "VHDX", "qemu-img convert -f vhdx -O qcow2"},
    {0, "conectix", 8, "VHD (dynamic)", "qemu-img convert -f vpc -O qcow2"},
    {-512, "conectix", 8, "VHD (fixed)", "qemu-img convert -f vpc -O qcow2"},
    {0, "QED\0", 4, "QED", "qemu-img convert -f qed -O qcow2"},
    {0, "LUKS\xba\xbe", 6, "LUKS (encrypted)", "qemu-img convert --object secret,... -O qcow2"},
    {0, "WithoutFreeSpace", 16, "Parallels", "qemu-img convert -f parallels -O qcow2"},
    {0, "WithouFreSpacExt", 16, "Parallels", "qemu-img convert -f parallels -O qcow2"},
    {-512, "koly", 4, "DMG", "qemu-img convert -f dmg -O qcow2"},
    {0, "\x1f\x8b", 2, "gzip-compressed", "gunzip"},
    {0,
     "\xfd"
     "7zXZ\0",
     6, "xz-compressed", "xz -d"},
    {0, "\x28\xb5\x2f\xfd", 4, "zstd-compressed", "zstd -d"},
    {0, "BZh", 3, "bzip2-compressed", "bunzip2"},
};

static ssize_t pread_full(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r;
    do {
        r = pread(fd, buf, n, off);
    } while (r < 0 && errno == EINTR);
    return r;
}

int blk_probe_format(int fd, enum blk_format *fmt, char *why, size_t whylen)
{
    uint8_t head[512], tail[512];
    ssize_t n = pread_full(fd, head, sizeof(head), 0);
    if (n < 0) return -errno;
    struct stat st;
    ssize_t tn = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 1024)
        tn = pread_full(fd, tail, sizeof(tail), st.st_size - 512);
    for (unsigned i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        const struct foreign *f = &foreign[i];
        const uint8_t *buf = f->off < 0 ? tail : head + f->off;
        ssize_t have = f->off < 0 ? tn : n - f->off;
        if (have >= (ssize_t)f->len && !memcmp(buf, f->magic, f->len)) {
            snprintf(why, whylen,
                     "this is a %s image, which vmon does not read; convert it (%s ...) "
                     "or give format=raw to use its bytes as they are",
                     f->name, f->fix);
            return -EMEDIUMTYPE;
        }
    }
    *fmt = (n >= 4 && !memcmp(head, QCOW2_MAGIC_BYTES, 4)) ? BLK_FMT_QCOW2 : BLK_FMT_RAW;
    return 0;
}

/* QEMU's image locks (block/file-posix.c), so that a QEMU and a vmon never
 * both write one image: open file description byte-range read locks on
 * byte 100 + bit for each permission held and on 200 + bit for each
 * permission refused to others; a conflict is another holder of the byte
 * that answers ours. Bits: 0 consistent read, 1 write, 2 write-unchanged,
 * 3 resize. A writer refuses others write and resize, a reader refuses
 * write (as a read-only QEMU drive does). */
#define QLOCK_PERM   100
#define QLOCK_SHARED 200

static int ofd_lock(int fd, short type, int cmd, off_t byte, short *held)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    if (fcntl(fd, cmd, &fl) < 0) return -errno;
    if (held) *held = fl.l_type;
    return 0;
}

static int qemu_lock(int fd, int ro)
{
    unsigned perm = ro ? 0x1 : 0x7, unshared = ro ? 0x2 : 0xa;
    for (unsigned b = 0; b < 4; b++) {
        if ((perm >> b) & 1) ofd_lock(fd, F_RDLCK, F_OFD_SETLK, QLOCK_PERM + b, NULL);
        if ((unshared >> b) & 1) ofd_lock(fd, F_RDLCK, F_OFD_SETLK, QLOCK_SHARED + b, NULL);
    }
    for (unsigned b = 0; b < 4; b++) {
        short held = F_UNLCK;
        if (((perm >> b) & 1) && !ofd_lock(fd, F_WRLCK, F_OFD_GETLK, QLOCK_SHARED + b, &held) &&
            held != F_UNLCK)
            return -1;
        if (((unshared >> b) & 1) && !ofd_lock(fd, F_WRLCK, F_OFD_GETLK, QLOCK_PERM + b, &held) &&
            held != F_UNLCK)
            return -1;
    }
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
    if (!(flags & BLK_NOLOCK) && qemu_lock(fd, ro) < 0) {
        snprintf(err, errlen,
                 "%s: image is in use by another program (a QEMU or other process holds a "
                 "conflicting lock)",
                 path);
        close(fd);
        return NULL;
    }
    int probed = 0;
    if (fmt == BLK_FMT_PROBE) {
        char why[256];
        int r = blk_probe_format(fd, &fmt, why, sizeof(why));
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, r == -EMEDIUMTYPE ? why : strerror(-r));
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
    if (b) b->lock_fd = flags & BLK_NOLOCK ? -1 : fd;
    return b;
}

int blk_set_locked(struct blk *b, int on, char *err, size_t errlen)
{
    int fd = b->lock_fd;
    if (fd < 0) return 0;
    if (!on) {
        for (unsigned bit = 0; bit < 4; bit++) {
            ofd_lock(fd, F_UNLCK, F_OFD_SETLK, QLOCK_PERM + bit, NULL);
            ofd_lock(fd, F_UNLCK, F_OFD_SETLK, QLOCK_SHARED + bit, NULL);
        }
        flock(fd, LOCK_UN);
        return 0;
    }
    if (flock(fd, (b->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0 ||
        qemu_lock(fd, b->readonly) < 0) {
        snprintf(err, errlen, "%s: cannot lock it again: another program took it", b->path);
        return -1;
    }
    return 0;
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
