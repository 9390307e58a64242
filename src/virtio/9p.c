/* virtio-9p: a host directory shared with the guest over 9P2000.L.
 *
 *   --share DIR,tag=TAG[,ro]     (a comma in DIR is written ",,")
 *
 * Transport (virtio 1.2 device type 9): one request queue; each request
 * is a T-message in the device-readable buffers and room for the R-message
 * in the device-writable ones. Config space: tag_len (le16) and the tag,
 * offered with VIRTIO_9P_MOUNT_TAG. The guest mounts it with
 *   mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt
 *
 * Protocol: 9P2000.L as Linux's v9fs speaks it (Documentation/filesystems/
 * 9p.rst, the diod protocol description). Messages are little-endian,
 * size[4] type[1] tag[2] then the body; strings are len[2] + bytes. Every
 * field is checked: a size field that disagrees with the buffer, a string
 * or count running past the message, a bad fid or name yields Rlerror
 * (EINVAL, EBADF, ...); a request too short to carry a tag is completed
 * with nothing written. Requests are served in order on a worker thread,
 * so Tflush always finds its target already answered.
 *
 * Host side (backend/fsdir.h): a fid names a path relative to the share,
 * made only of components that were directories or the final object when
 * walked; nothing is ever opened through a symlink, ".." at the root stays
 * at the root, names with '/' are refused. Policy choices, all so that a
 * guest cannot hurt the host through the share:
 *  - ownership changes (Tsetattr uid/gid) are accepted and ignored: files
 *    belong to the user running vmon;
 *  - set-user-ID bits (and set-group-ID on non-directories) are dropped
 *    from every mode the guest sets;
 *  - only regular files, directories, FIFOs and sockets can be created,
 *    and only regular files and directories opened;
 *  - "ro" refuses every modification with EROFS;
 *  - Tlock is granted without host locking, extended attributes are empty
 *    (Txattrwalk of "" lists none, any name is ENODATA).
 * A session holds at most P9_MAX_FIDS fids (EMFILE beyond; Linux keeps one
 * per cached dentry with cache=loose, so this is large and the table
 * grows as needed), whose paths take at most P9_MAX_PATH_BYTES (ENOMEM
 * beyond), and at most P9_MAX_OPEN host descriptors (the least recently
 * used are closed and reopened on demand beyond, see fds_make_room), so
 * that a guest can use up neither vmon's memory nor its file descriptors.
 * To make room for those, the server raises the process's soft
 * RLIMIT_NOFILE towards the hard limit when it starts.
 *
 * Snapshots save the session and every fid (path, open flags, the open
 * file's dev and ino; no host descriptor): after a restore an open fid
 * reopens its file by path on first use, as a reclaimed one does, and gets
 * ESTALE if it is gone or another file (so a file unlinked while open is
 * lost). */
#include "virtio/9p.h"
#include "backend/fsdir.h"
#include "snap/snap.h"
#include "mem/bus.h"
#include "mem/bytes.h"
#include "virtio/devices.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* 9P2000.L open flags (Linux's P9_DOTL_*, the asm-generic values) */
#define DOTL_ACCMODE      03u
#define DOTL_WRONLY       01u
#define DOTL_RDWR         02u
#define DOTL_CREATE       0100u
#define DOTL_EXCL         0200u
#define DOTL_TRUNC        01000u
#define DOTL_APPEND       02000u
#define DOTL_DSYNC        010000u
#define DOTL_DIRECTORY    0200000u
#define DOTL_SYNC         04000000u
#define DOTL_AT_REMOVEDIR 0x200u

/* Tsetattr valid bits */
#define SETATTR_MODE      0x001u
#define SETATTR_UID       0x002u
#define SETATTR_GID       0x004u
#define SETATTR_SIZE      0x008u
#define SETATTR_ATIME     0x010u
#define SETATTR_MTIME     0x020u
#define SETATTR_CTIME     0x040u
#define SETATTR_ATIME_SET 0x080u
#define SETATTR_MTIME_SET 0x100u
#define GETATTR_BASIC     0x7ffull

/* qid types */
#define QT_DIR     0x80u
#define QT_SYMLINK 0x02u
#define QT_FILE    0x00u
#define QID_SIZE   13u

#define P9_MAXWELEM    16
#define LOCK_UNLCK     2u
#define LOCK_SUCCESS   0u
#define FID_HASH       65536u
#define FID_CHUNK      256u /* fid slots are allocated in chunks (stable addresses) */
#define FID_CHUNKS     (P9_MAX_FIDS / FID_CHUNK)
#define DENTS_BUF      (32u << 10)
#define IOV_MAX_SLICES 1024u

enum fid_kind { FID_FREE = 0, FID_PATH, FID_XATTR };

struct p9_fid {
    uint32_t id;
    int kind;
    int32_t next;     /* hash chain, or free list */
    char *path;       /* FID_PATH: path below the share root */
    size_t path_size; /* strlen(path) + 1, counted in the session's budget */
    int32_t idx;      /* own slot index */
    int opened;       /* Tlopen/Tlcreate done: the fid stands for an open file */
    int fd;           /* its descriptor, or -1 (not open, or reclaimed) */
    int oflags;       /* host open flags to reopen a reclaimed descriptor with */
    int accmode;      /* O_RDONLY/O_WRONLY/O_RDWR of fd */
    int is_dir;
    dev_t dev; /* the open file, checked when reopening */
    ino_t ino;
    uint64_t last_use;
};

struct p9_server {
    pthread_mutex_t lock;
    struct fsdir fs;
    uint32_t msize;
    int versioned;
    unsigned nfids;
    unsigned nopen;    /* fids holding a host descriptor */
    uint64_t clock;    /* for last_use */
    size_t path_bytes; /* sum of the fids' path_size */
    int32_t free_head;
    int32_t *hash;   /* FID_HASH chains of slot indices */
    unsigned nslots; /* slots allocated, FID_CHUNK per chunk */
    struct p9_fid *chunks[FID_CHUNKS];
    uint8_t *rbuf;  /* reply under construction */
    uint8_t *dents; /* getdents64 buffer */
    struct iovec *slices;
};

/* ---- fid table ---- */

static unsigned fid_bucket(uint32_t id)
{
    return (id * 2654435761u) >> 16; /* 16 bits: FID_HASH buckets */
}

static struct p9_fid *fid_at(struct p9_server *s, int32_t i)
{
    return &s->chunks[(uint32_t)i / FID_CHUNK][(uint32_t)i % FID_CHUNK];
}

static struct p9_fid *fid_find(struct p9_server *s, uint32_t id)
{
    for (int32_t i = s->hash[fid_bucket(id)]; i >= 0; i = fid_at(s, i)->next)
        if (fid_at(s, i)->id == id) return fid_at(s, i);
    return NULL;
}

/* One more chunk of free slots; -1 at the limit or without memory. */
static int fids_grow(struct p9_server *s)
{
    if (s->nslots >= P9_MAX_FIDS) return -1;
    struct p9_fid *c = calloc(FID_CHUNK, sizeof(*c));
    if (!c) return -1;
    s->chunks[s->nslots / FID_CHUNK] = c;
    for (int32_t k = (int32_t)FID_CHUNK - 1; k >= 0; k--) {
        c[k].idx = (int32_t)s->nslots + k;
        c[k].next = s->free_head;
        s->free_head = (int32_t)s->nslots + k;
    }
    s->nslots += FID_CHUNK;
    return 0;
}

/* A fresh fid `id` (which must not exist) without a path; NULL when the
 * table is full. */
static struct p9_fid *fid_new(struct p9_server *s, uint32_t id, int kind)
{
    if (s->free_head < 0 && fids_grow(s) < 0) return NULL;
    int32_t i = s->free_head;
    struct p9_fid *f = fid_at(s, i);
    s->free_head = f->next;
    unsigned b = fid_bucket(id);
    f->id = id;
    f->kind = kind;
    f->path = NULL;
    f->path_size = 0;
    f->opened = 0;
    f->fd = -1;
    f->accmode = 0;
    f->is_dir = 0;
    f->next = s->hash[b];
    s->hash[b] = i;
    s->nfids++;
    return f;
}

/* Give f a copy of path p; -ENOMEM beyond the session's budget. */
static int fid_set_path(struct p9_server *s, struct p9_fid *f, const char *p)
{
    size_t n = strlen(p) + 1;
    if (s->path_bytes - f->path_size + n > P9_MAX_PATH_BYTES) return -ENOMEM;
    char *np = malloc(n);
    if (!np) return -ENOMEM;
    memcpy(np, p, n);
    free(f->path);
    s->path_bytes = s->path_bytes - f->path_size + n;
    f->path = np;
    f->path_size = n;
    return 0;
}

static void fid_close(struct p9_server *s, struct p9_fid *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        s->nopen--;
    }
    f->fd = -1;
    f->opened = 0;
}

static void fid_release(struct p9_server *s, struct p9_fid *f)
{
    fid_close(s, f);
    free(f->path);
    s->path_bytes -= f->path_size;
    f->path = NULL;
    f->path_size = 0;
    f->kind = FID_FREE;
}

static void fid_free(struct p9_server *s, struct p9_fid *f)
{
    int32_t idx = f->idx;
    int32_t *pp = &s->hash[fid_bucket(f->id)];
    while (*pp >= 0 && *pp != idx)
        pp = &fid_at(s, *pp)->next;
    if (*pp == idx) *pp = f->next;
    fid_release(s, f);
    f->next = s->free_head;
    s->free_head = idx;
    s->nfids--;
}

/* Forget every fid; the slots stay allocated. */
static void fids_clear(struct p9_server *s)
{
    for (unsigned i = 0; i < FID_HASH; i++)
        s->hash[i] = -1;
    s->free_head = -1;
    for (int32_t i = (int32_t)s->nslots - 1; i >= 0; i--) {
        struct p9_fid *f = fid_at(s, i);
        if (f->kind != FID_FREE) fid_release(s, f);
        f->next = s->free_head;
        s->free_head = i;
    }
    s->nfids = 0;
    s->nopen = 0;
    s->path_bytes = 0;
}

/* Paths at or below `from` now live below `to` (after a rename). */
static void fids_moved(struct p9_server *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    for (unsigned i = 0; i < s->nslots; i++) {
        struct p9_fid *f = fid_at(s, (int32_t)i);
        if (f->kind != FID_PATH || !fsdir_is_below(f->path, from)) continue;
        const char *rest = f->path + fl;
        size_t rl = strlen(rest);
        if (tl + rl + 1 > FSDIR_PATH_MAX) continue; /* stays stale */
        char np[FSDIR_PATH_MAX];
        memcpy(np, to, tl);
        memcpy(np + tl, rest, rl + 1);
        fid_set_path(s, f, np); /* stays stale without memory */
    }
}

/* ---- message parsing ---- */

struct msg {
    const uint8_t *p;
    size_t len, off;
    int bad; /* a field ran past the end */
};

static int need(struct msg *m, size_t n)
{
    if (m->bad || n > m->len - m->off) {
        m->bad = 1;
        return 0;
    }
    return 1;
}
static uint8_t get8(struct msg *m)
{
    if (!need(m, 1)) return 0;
    return m->p[m->off++];
}
static uint16_t get16(struct msg *m)
{
    if (!need(m, 2)) return 0;
    m->off += 2;
    return get_le16(m->p + m->off - 2);
}
static uint32_t get32(struct msg *m)
{
    if (!need(m, 4)) return 0;
    m->off += 4;
    return get_le32(m->p + m->off - 4);
}
static uint64_t get64(struct msg *m)
{
    uint64_t lo = get32(m);
    return lo | (uint64_t)get32(m) << 32;
}
/* A string: pointer into the message (not NUL-terminated) and length. */
static const char *getstr(struct msg *m, size_t *len)
{
    uint16_t n = get16(m);
    *len = 0;
    if (!need(m, n)) return NULL;
    const char *s = (const char *)m->p + m->off;
    m->off += n;
    *len = n;
    return s;
}
/* A file name into out (NUL-terminated); 0 or -errno (EINVAL when the
 * message is truncated). */
static int getname(struct msg *m, char out[FSDIR_NAME_MAX + 1], int allow_dots)
{
    size_t n;
    const char *s = getstr(m, &n);
    if (!s) return -EINVAL;
    int e = fsdir_check_name(s, n, allow_dots);
    if (e < 0) return e;
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

/* ---- replies ---- */

struct reply {
    uint8_t *b;
    size_t cap; /* header + body may not exceed this */
    size_t len;
    int over;
};

static uint8_t *room(struct reply *r, size_t n)
{
    if (r->over || n > r->cap - r->len) {
        r->over = 1;
        return NULL;
    }
    uint8_t *p = r->b + r->len;
    r->len += n;
    return p;
}
static void put8(struct reply *r, uint8_t v)
{
    uint8_t *p = room(r, 1);
    if (p) p[0] = v;
}
static void put16(struct reply *r, uint16_t v)
{
    uint8_t *p = room(r, 2);
    if (p) put_le16(p, v);
}
static void put32(struct reply *r, uint32_t v)
{
    uint8_t *p = room(r, 4);
    if (p) put_le32(p, v);
}
static void put64(struct reply *r, uint64_t v)
{
    put32(r, (uint32_t)v);
    put32(r, (uint32_t)(v >> 32));
}
static void putstr(struct reply *r, const char *s, size_t n)
{
    if (n > 0xffff) {
        r->over = 1;
        return;
    }
    put16(r, (uint16_t)n);
    uint8_t *p = room(r, n);
    if (p && n) memcpy(p, s, n);
}
static void putqid_raw(struct reply *r, uint8_t type, uint32_t version, uint64_t path)
{
    put8(r, type);
    put32(r, version);
    put64(r, path);
}
static void putqid(struct reply *r, const struct stat *st)
{
    uint8_t type = S_ISDIR(st->st_mode) ? QT_DIR : S_ISLNK(st->st_mode) ? QT_SYMLINK : QT_FILE;
    /* version changes with the contents (cache validation). */
    uint32_t version = (uint32_t)st->st_mtim.tv_sec ^ (uint32_t)st->st_mtim.tv_nsec ^
                       (uint32_t)((uint64_t)st->st_size << 8);
    putqid_raw(r, type, version, (uint64_t)st->st_ino);
}

/* Copy len bytes to the iovecs at byte offset off. */
static void iov_put(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    for (unsigned i = 0; i < n && len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t k = iov[i].iov_len - off;
        if (k > len) k = len;
        ram_copy_to((uint8_t *)iov[i].iov_base + off, b, k); /* guest RAM */
        b += k;
        len -= k;
        off = 0;
    }
}

/* The iovecs covering [off, off + len) of iov, at most max of them. */
static unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
                          struct iovec *out, unsigned max)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n && len && k < max; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t m = iov[i].iov_len - off;
        if (m > len) m = len;
        out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
        out[k].iov_len = m;
        k++;
        len -= m;
        off = 0;
    }
    return k;
}

/* One request being served. */
struct req {
    struct p9_server *s;
    struct msg in;
    struct reply out;
    const struct iovec *iov;
    unsigned niov;
    size_t direct; /* payload bytes already placed in iov after the body */
};

/* ---- helpers on fids ---- */

static int path_fid(struct req *r, uint32_t id, struct p9_fid **out)
{
    struct p9_fid *f = fid_find(r->s, id);
    if (!f) return -EBADF;
    if (f->kind != FID_PATH) return -EINVAL;
    *out = f;
    return 0;
}

static int stat_path(struct p9_server *s, const char *path, struct stat *st)
{
    int fd = fsdir_resolve(&s->fs, path, O_PATH);
    if (fd < 0) return fd;
    int e = fstat(fd, st) < 0 ? -errno : 0;
    close(fd);
    return e;
}

/* ---- descriptors of open fids ----
 *
 * At most P9_MAX_OPEN fids hold a host descriptor at once. When a new one
 * is needed at the limit, the descriptors of the least recently used open
 * fids are closed ("reclaimed") and reopened by path, with the same flags
 * (no O_TRUNC), on their next use; the reopened file must be the same
 * inode, else the fid gets ESTALE. A file unlinked while open cannot be
 * found again by path, so its descriptor is never reclaimed. Linux keeps a
 * descriptor-holding fid per written file with cache=loose, so this is
 * what lets such a guest write more files than the limit. */

#define RECLAIM_BATCH 64u

struct lru_ent {
    uint64_t last_use;
    struct p9_fid *f;
};

static int lru_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct lru_ent *)a)->last_use, y = ((const struct lru_ent *)b)->last_use;
    return x < y ? -1 : x > y;
}

/* Make room for one more descriptor; 0 or -ENFILE. */
static int fds_make_room(struct p9_server *s)
{
    if (s->nopen < P9_MAX_OPEN) return 0;
    struct lru_ent *v = malloc(s->nopen * sizeof(*v));
    if (!v) return -ENFILE;
    unsigned n = 0;
    for (unsigned i = 0; i < s->nslots && n < s->nopen; i++) {
        struct p9_fid *f = fid_at(s, (int32_t)i);
        if (f->kind == FID_FREE || f->fd < 0) continue;
        v[n++] = (struct lru_ent){f->last_use, f};
    }
    qsort(v, n, sizeof(*v), lru_cmp);
    unsigned closed = 0;
    for (unsigned i = 0; i < n && closed < RECLAIM_BATCH; i++) {
        struct stat st;
        struct p9_fid *f = v[i].f;
        if (fstat(f->fd, &st) < 0 || st.st_nlink == 0) continue; /* unlinked: keep */
        close(f->fd);
        f->fd = -1; /* still opened */
        s->nopen--;
        closed++;
    }
    free(v);
    return s->nopen < P9_MAX_OPEN ? 0 : -ENFILE;
}

/* The descriptor of an open fid, reopened if it was reclaimed; -EBADF if
 * the fid is not open. */
static int fid_fd(struct p9_server *s, struct p9_fid *f)
{
    if (f->kind != FID_PATH || !f->opened) return -EBADF;
    f->last_use = ++s->clock;
    if (f->fd >= 0) return f->fd;
    int e = fds_make_room(s);
    if (e < 0) return e;
    int fd = fsdir_resolve(&s->fs, f->path, f->oflags | O_NONBLOCK);
    if (fd < 0) return fd == -ENOENT || fd == -ELOOP || fd == -ENOTDIR ? -ESTALE : fd;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
        close(fd);
        return -ESTALE; /* replaced behind our back */
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    f->fd = fd;
    s->nopen++;
    return fd;
}

static int stat_fid(struct p9_server *s, struct p9_fid *f, struct stat *st)
{
    if (f->fd >= 0) return fstat(f->fd, st) < 0 ? -errno : 0;
    return stat_path(s, f->path, st);
}

/* Permission bits the guest may set: no set-user-ID, no set-group-ID on
 * anything but directories. */
static mode_t safe_mode(uint32_t mode, int is_dir)
{
    mode_t m = (mode_t)mode & 0777;
    m |= (mode_t)mode & S_ISVTX;
    if (is_dir) m |= (mode_t)mode & S_ISGID;
    return m;
}

static int dotl_to_host(uint32_t f, int *out)
{
    int h;
    switch (f & DOTL_ACCMODE) {
    case 0: h = O_RDONLY; break;
    case DOTL_WRONLY: h = O_WRONLY; break;
    case DOTL_RDWR: h = O_RDWR; break;
    default: return -EINVAL;
    }
    if (f & DOTL_TRUNC) h |= O_TRUNC;
    if (f & DOTL_APPEND) h |= O_APPEND;
    if (f & DOTL_DSYNC) h |= O_DSYNC;
    if (f & DOTL_SYNC) h |= O_SYNC;
    if (f & DOTL_DIRECTORY) h |= O_DIRECTORY;
    *out = h;
    return 0;
}

/* Opened for the fid: remember the descriptor (O_NONBLOCK, used while
 * opening so that a FIFO swapped in cannot block us, is cleared). */
static void fid_set_open(struct p9_server *s, struct p9_fid *f, int fd, int hflags,
                         const struct stat *st)
{
    s->nopen++;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    f->opened = 1;
    f->fd = fd;
    f->oflags = hflags & ~(O_TRUNC | O_CREAT | O_EXCL);
    f->accmode = hflags & O_ACCMODE;
    f->is_dir = S_ISDIR(st->st_mode);
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->last_use = ++s->clock;
}

/* ---- operations ---- */

#define PARSED(r)                                                                                  \
    do {                                                                                           \
        if ((r)->in.bad) return -EINVAL;                                                           \
    } while (0)

/* A request that changes the share and names an entry: parsed, the name
 * valid (ne from getname), the share writable. */
#define PARSED_CHANGE(r, ne)                                                                       \
    do {                                                                                           \
        PARSED(r);                                                                                 \
        if ((ne) < 0) return (ne);                                                                 \
        if ((r)->s->fs.readonly) return -EROFS;                                                    \
    } while (0)

static int op_version(struct req *r)
{
    uint32_t msize = get32(&r->in);
    size_t vl;
    const char *v = getstr(&r->in, &vl);
    PARSED(r);
    struct p9_server *s = r->s;
    fids_clear(s); /* a new session starts */
    s->versioned = 0;
    if (msize < P9_MIN_MSIZE) return -EINVAL;
    s->msize = msize < P9_MAX_MSIZE ? msize : P9_MAX_MSIZE;
    static const char ver[] = "9P2000.L";
    put32(&r->out, s->msize);
    if (vl == sizeof(ver) - 1 && !memcmp(v, ver, vl)) {
        s->versioned = 1;
        putstr(&r->out, ver, sizeof(ver) - 1);
    } else {
        putstr(&r->out, "unknown", 7);
    }
    return 0;
}

static int op_attach(struct req *r)
{
    uint32_t fid = get32(&r->in);
    get32(&r->in); /* afid: no authentication */
    size_t n;
    getstr(&r->in, &n); /* uname */
    getstr(&r->in, &n); /* aname: the share is always the whole directory */
    get32(&r->in);      /* n_uname */
    PARSED(r);
    if (fid == P9_NOFID) return -EINVAL;
    if (fid_find(r->s, fid)) return -EEXIST;
    struct stat st;
    int e = stat_path(r->s, "", &st);
    if (e < 0) return e;
    struct p9_fid *f = fid_new(r->s, fid, FID_PATH);
    if (!f) return -EMFILE;
    e = fid_set_path(r->s, f, "");
    if (e < 0) {
        fid_free(r->s, f);
        return e;
    }
    putqid(&r->out, &st);
    return 0;
}

static int op_walk(struct req *r)
{
    uint32_t fid = get32(&r->in), newfid = get32(&r->in);
    uint16_t nw = get16(&r->in);
    char names[P9_MAXWELEM][FSDIR_NAME_MAX + 1];
    PARSED(r);
    if (nw > P9_MAXWELEM) return -EINVAL;
    for (unsigned i = 0; i < nw; i++) {
        int e = getname(&r->in, names[i], 1);
        if (e < 0) return e;
    }
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (newfid == P9_NOFID) return -EINVAL;
    if (newfid != fid && fid_find(r->s, newfid)) return -EEXIST;
    if (newfid == fid && nw && f->opened) return -EBUSY; /* an open fid keeps its file */
    if (2 + (size_t)QID_SIZE * nw > r->out.cap - r->out.len) return -EMSGSIZE;
    char path[FSDIR_PATH_MAX];
    snprintf(path, sizeof(path), "%s", f->path);
    struct stat st[P9_MAXWELEM];
    unsigned done = 0;
    for (; done < nw; done++) {
        char next[FSDIR_PATH_MAX];
        e = fsdir_join(next, sizeof(next), path, names[done]);
        if (e == 0) e = stat_path(r->s, next, &st[done]);
        if (e < 0) {
            if (done == 0) return e;
            break;
        }
        memcpy(path, next, strlen(next) + 1);
        /* Only a directory can be walked further. */
        if (done + 1 < nw && !S_ISDIR(st[done].st_mode)) {
            done++; /* the next component fails: ENOTDIR */
            break;
        }
    }
    if (done == nw) {
        if (newfid == fid) {
            e = fid_set_path(r->s, f, path);
            if (e < 0) return e;
        } else {
            struct p9_fid *nf = fid_new(r->s, newfid, FID_PATH);
            if (!nf) return -EMFILE;
            e = fid_set_path(r->s, nf, path);
            if (e < 0) {
                fid_free(r->s, nf);
                return e;
            }
        }
    }
    put16(&r->out, (uint16_t)done);
    for (unsigned i = 0; i < done; i++)
        putqid(&r->out, &st[i]);
    return 0;
}

static int op_lopen(struct req *r)
{
    uint32_t fid = get32(&r->in), flags = get32(&r->in);
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (f->opened) return -EINVAL;
    int hf;
    e = dotl_to_host(flags, &hf);
    if (e < 0) return e;
    if (r->s->fs.readonly && ((hf & O_ACCMODE) != O_RDONLY || (hf & O_TRUNC))) return -EROFS;
    e = fds_make_room(r->s);
    if (e < 0) return e;
    /* Look before opening: never open a device node or a symlink. */
    struct stat st, st2;
    e = stat_path(r->s, f->path, &st);
    if (e < 0) return e;
    if (S_ISLNK(st.st_mode)) return -ELOOP;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return -EPERM;
    int fd = fsdir_resolve(&r->s->fs, f->path, hf | O_NONBLOCK);
    if (fd < 0) return fd;
    if (fstat(fd, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev ||
        (!S_ISREG(st2.st_mode) && !S_ISDIR(st2.st_mode))) {
        close(fd);
        return -EAGAIN; /* changed under us */
    }
    fid_set_open(r->s, f, fd, hf, &st2);
    putqid(&r->out, &st2);
    put32(&r->out, 0); /* iounit: msize rules */
    return 0;
}

static int op_lcreate(struct req *r)
{
    uint32_t fid = get32(&r->in);
    char name[FSDIR_NAME_MAX + 1];
    int ne = getname(&r->in, name, 0);
    uint32_t flags = get32(&r->in), mode = get32(&r->in);
    get32(&r->in); /* gid */
    PARSED_CHANGE(r, ne);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (f->opened) return -EINVAL;
    int hf;
    e = dotl_to_host(flags, &hf);
    if (e < 0) return e;
    hf &= ~O_DIRECTORY;
    e = fds_make_room(r->s);
    if (e < 0) return e;
    char np[FSDIR_PATH_MAX];
    e = fsdir_join(np, sizeof(np), f->path, name);
    if (e < 0) return e;
    int dir = fsdir_resolve(&r->s->fs, f->path, O_PATH | O_DIRECTORY);
    if (dir < 0) return dir;
    mode_t m = safe_mode(mode, 0);
    int base = hf | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    int created = 1;
    int fd = openat(dir, name, base | O_CREAT | O_EXCL, m);
    if (fd < 0 && errno == EEXIST && !(flags & DOTL_EXCL)) {
        /* An existing file: look before opening, as Tlopen does, so that
         * no device node or FIFO the host put there is ever opened. */
        struct stat ost;
        created = 0;
        if (fstatat(dir, name, &ost, AT_SYMLINK_NOFOLLOW) < 0) {
            fd = -1;
        } else if (!S_ISREG(ost.st_mode)) {
            fd = -1;
            errno = S_ISDIR(ost.st_mode) ? EISDIR : S_ISLNK(ost.st_mode) ? ELOOP : EPERM;
        } else {
            fd = openat(dir, name, base);
        }
    }
    e = fd < 0 ? -errno : 0;
    close(dir);
    if (e < 0) return e;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        e = -errno;
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -EPERM;
    }
    if (created && (st.st_mode & 07777) != m) { /* undo vmon's umask */
        fchmod(fd, m);
        fstat(fd, &st);
    }
    e = fid_set_path(r->s, f, np);
    if (e < 0) {
        close(fd);
        return e;
    }
    fid_set_open(r->s, f, fd, hf, &st);
    putqid(&r->out, &st);
    put32(&r->out, 0);
    return 0;
}

/* Directory fid -> O_PATH descriptor of it (-errno). */
static int dir_of(struct req *r, uint32_t dfid)
{
    struct p9_fid *d;
    int e = path_fid(r, dfid, &d);
    if (e < 0) return e;
    return fsdir_resolve(&r->s->fs, d->path, O_PATH | O_DIRECTORY);
}

/* Reply with the qid of dir/name (just created). */
static int reply_qid_at(struct req *r, int dir, const char *name)
{
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
    putqid(&r->out, &st);
    return 0;
}

static int op_mkdir(struct req *r)
{
    uint32_t dfid = get32(&r->in);
    char name[FSDIR_NAME_MAX + 1];
    int ne = getname(&r->in, name, 0);
    uint32_t mode = get32(&r->in);
    get32(&r->in); /* gid */
    PARSED_CHANGE(r, ne);
    int dir = dir_of(r, dfid);
    if (dir < 0) return dir;
    mode_t m = safe_mode(mode, 1);
    int e = mkdirat(dir, name, m) < 0 ? -errno : 0;
    if (e == 0) {
        struct stat st;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
            (st.st_mode & 07777) != m)
            fchmodat(dir, name, m, AT_SYMLINK_NOFOLLOW); /* undo vmon's umask */
        e = reply_qid_at(r, dir, name);
    }
    close(dir);
    return e;
}

static int op_symlink(struct req *r)
{
    uint32_t dfid = get32(&r->in);
    char name[FSDIR_NAME_MAX + 1];
    int ne = getname(&r->in, name, 0);
    size_t tl;
    const char *t = getstr(&r->in, &tl);
    get32(&r->in); /* gid */
    PARSED(r);
    if (ne < 0) return ne;
    /* The target is stored, never followed by us; it only has to be a
     * valid C string. */
    if (tl == 0 || memchr(t, 0, tl)) return -EINVAL;
    if (tl >= FSDIR_PATH_MAX) return -ENAMETOOLONG;
    char target[FSDIR_PATH_MAX];
    memcpy(target, t, tl);
    target[tl] = 0;
    if (r->s->fs.readonly) return -EROFS;
    int dir = dir_of(r, dfid);
    if (dir < 0) return dir;
    int e = symlinkat(target, dir, name) < 0 ? -errno : 0;
    if (e == 0) e = reply_qid_at(r, dir, name);
    close(dir);
    return e;
}

static int op_mknod(struct req *r)
{
    uint32_t dfid = get32(&r->in);
    char name[FSDIR_NAME_MAX + 1];
    int ne = getname(&r->in, name, 0);
    uint32_t mode = get32(&r->in);
    get32(&r->in); /* major */
    get32(&r->in); /* minor */
    get32(&r->in); /* gid */
    PARSED_CHANGE(r, ne);
    mode_t type = (mode_t)mode & S_IFMT;
    if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK) return -EPERM; /* no devices */
    int dir = dir_of(r, dfid);
    if (dir < 0) return dir;
    mode_t m = safe_mode(mode, 0);
    int e;
    if (type == S_IFREG) {
        int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, m);
        e = fd < 0 ? -errno : 0;
        if (fd >= 0) {
            fchmod(fd, m);
            close(fd);
        }
    } else {
        e = mknodat(dir, name, type | m, 0) < 0 ? -errno : 0;
        if (e == 0) fchmodat(dir, name, m, AT_SYMLINK_NOFOLLOW);
    }
    if (e == 0) e = reply_qid_at(r, dir, name);
    close(dir);
    return e;
}

/* Move the object at path `from` to directory fid dfid under `name`. */
static int do_rename(struct req *r, const char *from, uint32_t dfid, const char *name)
{
    if (!*from) return -EBUSY; /* the share root stays */
    struct p9_fid *d;
    int e = path_fid(r, dfid, &d);
    if (e < 0) return e;
    char to[FSDIR_PATH_MAX];
    e = fsdir_join(to, sizeof(to), d->path, name);
    if (e < 0) return e;
    char src[FSDIR_PATH_MAX];
    snprintf(src, sizeof(src), "%s", from);
    const char *sname;
    int sdir = fsdir_parent(&r->s->fs, src, &sname);
    if (sdir < 0) return sdir;
    int ddir = fsdir_resolve(&r->s->fs, d->path, O_PATH | O_DIRECTORY);
    if (ddir < 0) {
        close(sdir);
        return ddir;
    }
    e = renameat(sdir, sname, ddir, name) < 0 ? -errno : 0;
    close(sdir);
    close(ddir);
    if (e == 0 && strcmp(src, to)) fids_moved(r->s, src, to);
    return e;
}

static int op_rename(struct req *r)
{
    uint32_t fid = get32(&r->in), dfid = get32(&r->in);
    char name[FSDIR_NAME_MAX + 1];
    int ne = getname(&r->in, name, 0);
    PARSED_CHANGE(r, ne);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    return do_rename(r, f->path, dfid, name);
}

static int op_renameat(struct req *r)
{
    uint32_t odfid = get32(&r->in);
    char oname[FSDIR_NAME_MAX + 1], nname[FSDIR_NAME_MAX + 1];
    int e1 = getname(&r->in, oname, 0);
    uint32_t ndfid = get32(&r->in);
    int e2 = getname(&r->in, nname, 0);
    PARSED(r);
    if (e1 < 0) return e1;
    if (e2 < 0) return e2;
    if (r->s->fs.readonly) return -EROFS;
    struct p9_fid *od;
    int e = path_fid(r, odfid, &od);
    if (e < 0) return e;
    char from[FSDIR_PATH_MAX];
    e = fsdir_join(from, sizeof(from), od->path, oname);
    if (e < 0) return e;
    return do_rename(r, from, ndfid, nname);
}

static int op_unlinkat(struct req *r)
{
    uint32_t dfid = get32(&r->in);
    char name[FSDIR_NAME_MAX + 1];
    int ne = getname(&r->in, name, 0);
    uint32_t flags = get32(&r->in);
    PARSED(r);
    if (ne < 0) return ne;
    if (flags & ~DOTL_AT_REMOVEDIR) return -EINVAL;
    if (r->s->fs.readonly) return -EROFS;
    int dir = dir_of(r, dfid);
    if (dir < 0) return dir;
    int e = unlinkat(dir, name, (flags & DOTL_AT_REMOVEDIR) ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
    close(dir);
    return e;
}

static int op_remove(struct req *r)
{
    uint32_t fid = get32(&r->in);
    PARSED(r);
    struct p9_fid *f = fid_find(r->s, fid);
    if (!f) return -EBADF;
    int e;
    /* The fid is clunked whatever happens. */
    if (f->kind != FID_PATH) {
        e = -EINVAL;
    } else if (r->s->fs.readonly) {
        e = -EROFS;
    } else if (!*f->path) {
        e = -EBUSY;
    } else {
        const char *name;
        int dir = fsdir_parent(&r->s->fs, f->path, &name);
        e = dir;
        if (dir >= 0) {
            struct stat st;
            e = 0;
            if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                e = -errno;
            else if (unlinkat(dir, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
                e = -errno;
            close(dir);
        }
    }
    fid_free(r->s, f);
    return e;
}

static int op_link(struct req *r)
{
    uint32_t dfid = get32(&r->in), fid = get32(&r->in);
    char name[FSDIR_NAME_MAX + 1];
    int ne = getname(&r->in, name, 0);
    PARSED_CHANGE(r, ne);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (!*f->path) return -EPERM;
    int dir = dir_of(r, dfid);
    if (dir < 0) return dir;
    const char *sname;
    int sdir = fsdir_parent(&r->s->fs, f->path, &sname);
    if (sdir < 0) {
        close(dir);
        return sdir;
    }
    e = linkat(sdir, sname, dir, name, 0) < 0 ? -errno : 0;
    close(sdir);
    close(dir);
    return e;
}

static int op_readlink(struct req *r)
{
    uint32_t fid = get32(&r->in);
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    int fd = fsdir_resolve(&r->s->fs, f->path, O_PATH);
    if (fd < 0) return fd;
    char buf[FSDIR_PATH_MAX];
    ssize_t n = readlinkat(fd, "", buf, sizeof(buf));
    e = n < 0 ? -errno : 0;
    close(fd);
    if (e < 0) return e == -ENOENT ? -EINVAL : e; /* not a symlink */
    if ((size_t)n >= sizeof(buf)) return -ENAMETOOLONG;
    if (2 + (size_t)n > r->out.cap - r->out.len) return -EMSGSIZE;
    putstr(&r->out, buf, (size_t)n);
    return 0;
}

static int op_getattr(struct req *r)
{
    uint32_t fid = get32(&r->in);
    get64(&r->in); /* request_mask: we always answer the basic set */
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    struct stat st;
    e = stat_fid(r->s, f, &st);
    if (e < 0) return e;
    struct reply *o = &r->out;
    put64(o, GETATTR_BASIC);
    putqid(o, &st);
    put32(o, st.st_mode);
    put32(o, st.st_uid);
    put32(o, st.st_gid);
    put64(o, st.st_nlink);
    put64(o, st.st_rdev);
    put64(o, (uint64_t)st.st_size);
    put64(o, (uint64_t)st.st_blksize);
    put64(o, (uint64_t)st.st_blocks);
    put64(o, (uint64_t)st.st_atim.tv_sec);
    put64(o, (uint64_t)st.st_atim.tv_nsec);
    put64(o, (uint64_t)st.st_mtim.tv_sec);
    put64(o, (uint64_t)st.st_mtim.tv_nsec);
    put64(o, (uint64_t)st.st_ctim.tv_sec);
    put64(o, (uint64_t)st.st_ctim.tv_nsec);
    put64(o, 0); /* btime */
    put64(o, 0);
    put64(o, 0); /* gen */
    put64(o, 0); /* data_version */
    return 0;
}

static int set_time(uint32_t valid, uint32_t bit, uint32_t setbit, uint64_t sec, uint64_t nsec,
                    struct timespec *ts)
{
    if (!(valid & bit)) {
        ts->tv_sec = 0;
        ts->tv_nsec = UTIME_OMIT;
    } else if (!(valid & setbit)) {
        ts->tv_sec = 0;
        ts->tv_nsec = UTIME_NOW;
    } else {
        if (nsec >= 1000000000ull || sec > (uint64_t)INT64_MAX) return -EINVAL;
        ts->tv_sec = (time_t)sec;
        ts->tv_nsec = (long)nsec;
    }
    return 0;
}

static int op_setattr(struct req *r)
{
    uint32_t fid = get32(&r->in), valid = get32(&r->in), mode = get32(&r->in);
    get32(&r->in); /* uid */
    get32(&r->in); /* gid */
    uint64_t size = get64(&r->in);
    uint64_t as = get64(&r->in), an = get64(&r->in), ms = get64(&r->in), mn = get64(&r->in);
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (r->s->fs.readonly) return -EROFS;
    struct timespec ts[2];
    if (set_time(valid, SETATTR_ATIME, SETATTR_ATIME_SET, as, an, &ts[0]) < 0 ||
        set_time(valid, SETATTR_MTIME, SETATTR_MTIME_SET, ms, mn, &ts[1]) < 0)
        return -EINVAL;
    if ((valid & SETATTR_SIZE) && size > (uint64_t)INT64_MAX) return -EFBIG;
    const char *name;
    int dir = fsdir_parent(&r->s->fs, f->path, &name);
    if (dir < 0) return dir;
    e = 0;
    if (valid & SETATTR_MODE) {
        struct stat st;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            e = -errno;
        else if (fchmodat(dir, name, safe_mode(mode, S_ISDIR(st.st_mode)), AT_SYMLINK_NOFOLLOW) < 0)
            e = -errno;
    }
    if (e == 0 && (valid & SETATTR_SIZE)) {
        if (f->opened && f->accmode != O_RDONLY) {
            int fd = fid_fd(r->s, f);
            if (fd < 0)
                e = fd;
            else if (ftruncate(fd, (off_t)size) < 0)
                e = -errno;
        } else {
            /* Look first: only a regular file is opened to be truncated. */
            struct stat st, st2;
            e = stat_path(r->s, f->path, &st);
            if (e == 0 && !S_ISREG(st.st_mode)) e = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
            int fd = e < 0 ? e : fsdir_resolve(&r->s->fs, f->path, O_WRONLY | O_NONBLOCK);
            if (fd < 0) {
                e = fd;
            } else {
                if (fstat(fd, &st2) < 0)
                    e = -errno;
                else if (!S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino)
                    e = -EAGAIN; /* changed under us */
                else if (ftruncate(fd, (off_t)size) < 0)
                    e = -errno;
                close(fd);
            }
        }
    }
    if (e == 0 && (valid & (SETATTR_ATIME | SETATTR_MTIME))) {
        if (utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0) e = -errno;
    }
    /* SETATTR_UID/GID: ignored (files belong to vmon's user); CTIME
     * changes by itself. */
    close(dir);
    return e;
}

static int op_xattrwalk(struct req *r)
{
    uint32_t fid = get32(&r->in), newfid = get32(&r->in);
    size_t nl;
    getstr(&r->in, &nl);
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (nl) return -ENODATA; /* no attribute has a value */
    if (newfid == P9_NOFID || fid_find(r->s, newfid)) return -EEXIST;
    if (!fid_new(r->s, newfid, FID_XATTR)) return -EMFILE;
    put64(&r->out, 0); /* the list of names is empty */
    return 0;
}

static int op_xattrcreate(struct req *r)
{
    return r->s->fs.readonly ? -EROFS : -EOPNOTSUPP;
}

/* struct linux_dirent64 layout */
#define DENT_INO    0
#define DENT_OFF    8
#define DENT_RECLEN 16
#define DENT_TYPE   18
#define DENT_NAME   19

static int op_readdir(struct req *r)
{
    uint32_t fid = get32(&r->in);
    uint64_t offset = get64(&r->in);
    uint32_t count = get32(&r->in);
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (!f->opened) return -EBADF;
    if (!f->is_dir) return -ENOTDIR;
    if (offset > (uint64_t)INT64_MAX) return -EINVAL;
    struct reply *o = &r->out;
    size_t avail = o->cap - o->len;
    if (avail < 4) return -EMSGSIZE;
    if (count > avail - 4) count = (uint32_t)(avail - 4);
    int fd = fid_fd(r->s, f);
    if (fd < 0) return fd;
    if (lseek(fd, (off_t)offset, SEEK_SET) < 0) return -errno;
    size_t count_at = o->len;
    put32(o, 0);
    uint32_t used = 0;
    int full = 0;
    while (!full) {
        long n = syscall(SYS_getdents64, fd, r->s->dents, DENTS_BUF);
        if (n < 0) {
            if (used == 0) return -errno;
            break;
        }
        if (n == 0) break;
        for (long p = 0; p < n;) {
            const uint8_t *d = r->s->dents + p;
            uint16_t reclen;
            memcpy(&reclen, d + DENT_RECLEN, 2);
            if (reclen <= DENT_NAME || reclen > n - p) {
                full = 1; /* cannot happen; stop rather than misparse */
                break;
            }
            uint64_t ino;
            int64_t doff;
            memcpy(&ino, d + DENT_INO, 8);
            memcpy(&doff, d + DENT_OFF, 8);
            uint8_t dtype = d[DENT_TYPE];
            const char *name = (const char *)d + DENT_NAME;
            size_t nl = strnlen(name, (size_t)reclen - DENT_NAME);
            size_t ent = QID_SIZE + 8 + 1 + 2 + nl;
            if (used + ent > count) {
                full = 1;
                break;
            }
            uint8_t qt = dtype == DT_DIR ? QT_DIR : dtype == DT_LNK ? QT_SYMLINK : QT_FILE;
            putqid_raw(o, qt, 0, ino);
            put64(o, (uint64_t)doff);
            put8(o, dtype);
            putstr(o, name, nl);
            used += (uint32_t)ent;
            p += reclen;
        }
    }
    if (used == 0 && full) return -EINVAL; /* buffer too small for one entry */
    put_le32(o->b + count_at, used);
    return 0;
}

static int op_read(struct req *r)
{
    uint32_t fid = get32(&r->in);
    uint64_t offset = get64(&r->in);
    uint32_t count = get32(&r->in);
    PARSED(r);
    struct p9_fid *f = fid_find(r->s, fid);
    if (!f) return -EBADF;
    struct reply *o = &r->out;
    if (o->cap - o->len < 4) return -EMSGSIZE;
    if (f->kind == FID_XATTR) {
        put32(o, 0);
        return 0;
    }
    if (offset > (uint64_t)INT64_MAX) return -EINVAL;
    int fd = fid_fd(r->s, f);
    if (fd < 0) return fd;
    size_t avail = o->cap - o->len - 4;
    if (count > avail) count = (uint32_t)avail;
    size_t data_at = o->len + 4;
    unsigned k = iov_slice(r->iov, r->niov, data_at, count, r->s->slices, IOV_MAX_SLICES);
    ssize_t n = 0;
    if (count) {
        n = k ? preadv(fd, r->s->slices, (int)k, (off_t)offset) : 0;
        if (n < 0) return -errno;
    }
    put32(o, (uint32_t)n);
    r->direct = (size_t)n;
    return 0;
}

static int op_write(struct req *r)
{
    uint32_t fid = get32(&r->in);
    uint64_t offset = get64(&r->in);
    uint32_t count = get32(&r->in);
    PARSED(r);
    /* Data follows; a count beyond the message is cut to what is there
     * (Linux's zero-copy writes may carry fewer bytes than announced). */
    size_t have = r->in.len - r->in.off;
    if (count > have) count = (uint32_t)have;
    struct p9_fid *f = fid_find(r->s, fid);
    if (!f) return -EBADF;
    if (r->s->fs.readonly) return -EROFS;
    if (offset > (uint64_t)INT64_MAX) return -EINVAL;
    int fd = fid_fd(r->s, f);
    if (fd < 0) return fd;
    ssize_t n = 0;
    if (count) {
        n = pwrite(fd, r->in.p + r->in.off, count, (off_t)offset);
        if (n < 0) return -errno;
    }
    put32(&r->out, (uint32_t)n);
    return 0;
}

static int op_clunk(struct req *r)
{
    uint32_t fid = get32(&r->in);
    PARSED(r);
    struct p9_fid *f = fid_find(r->s, fid);
    if (!f) return -EBADF;
    fid_free(r->s, f);
    return 0;
}

static int op_flush(struct req *r)
{
    get16(&r->in); /* oldtag: already answered, requests are served in order */
    PARSED(r);
    return 0;
}

static int op_statfs(struct req *r)
{
    uint32_t fid = get32(&r->in);
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    int fd = fsdir_resolve(&r->s->fs, f->path, O_PATH);
    if (fd < 0) return fd;
    struct statfs sf;
    e = fstatfs(fd, &sf) < 0 ? -errno : 0;
    close(fd);
    if (e < 0) return e;
    uint64_t fsid;
    memcpy(&fsid, &sf.f_fsid, sizeof(fsid));
    struct reply *o = &r->out;
    put32(o, (uint32_t)sf.f_type);
    put32(o, (uint32_t)sf.f_bsize);
    put64(o, sf.f_blocks);
    put64(o, sf.f_bfree);
    put64(o, sf.f_bavail);
    put64(o, sf.f_files);
    put64(o, sf.f_ffree);
    put64(o, fsid);
    put32(o, (uint32_t)sf.f_namelen);
    return 0;
}

static int op_fsync(struct req *r)
{
    uint32_t fid = get32(&r->in);
    PARSED(r);
    uint32_t datasync = r->in.len - r->in.off >= 4 ? get32(&r->in) : 0; /* newer clients */
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    int fd = fid_fd(r->s, f);
    if (fd < 0) return fd;
    if ((datasync ? fdatasync(fd) : fsync(fd)) < 0) return -errno;
    return 0;
}

static int op_lock(struct req *r)
{
    uint32_t fid = get32(&r->in);
    uint8_t type = get8(&r->in);
    get32(&r->in); /* flags */
    get64(&r->in); /* start */
    get64(&r->in); /* length */
    get32(&r->in); /* proc_id */
    size_t n;
    getstr(&r->in, &n); /* client_id */
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (type > LOCK_UNLCK) return -EINVAL;
    put8(&r->out, LOCK_SUCCESS); /* granted: no locking between clients */
    return 0;
}

static int op_getlock(struct req *r)
{
    uint32_t fid = get32(&r->in);
    uint8_t type = get8(&r->in);
    uint64_t start = get64(&r->in), length = get64(&r->in);
    uint32_t proc_id = get32(&r->in);
    size_t n;
    const char *cid = getstr(&r->in, &n);
    PARSED(r);
    struct p9_fid *f;
    int e = path_fid(r, fid, &f);
    if (e < 0) return e;
    if (type > LOCK_UNLCK) return -EINVAL;
    struct reply *o = &r->out;
    if (1 + 8 + 8 + 4 + 2 + n > o->cap - o->len) return -EMSGSIZE;
    put8(o, LOCK_UNLCK); /* nothing conflicts */
    put64(o, start);
    put64(o, length);
    put32(o, proc_id);
    putstr(o, cid, n);
    return 0;
}

static int op_auth(struct req *r)
{
    return -EOPNOTSUPP; /* no authentication needed */
}

typedef int (*p9_op)(struct req *r);

struct op_entry {
    p9_op fn;
    uint16_t min_reply; /* body bytes a success needs: checked before acting */
};

static const struct op_entry *op_lookup(uint8_t type)
{
    static const struct op_entry ops[256] = {
        [P9_TSTATFS] = {op_statfs, 60},
        [P9_TLOPEN] = {op_lopen, QID_SIZE + 4},
        [P9_TLCREATE] = {op_lcreate, QID_SIZE + 4},
        [P9_TSYMLINK] = {op_symlink, QID_SIZE},
        [P9_TMKNOD] = {op_mknod, QID_SIZE},
        [P9_TRENAME] = {op_rename, 0},
        [P9_TREADLINK] = {op_readlink, 2},
        [P9_TGETATTR] = {op_getattr, 153},
        [P9_TSETATTR] = {op_setattr, 0},
        [P9_TXATTRWALK] = {op_xattrwalk, 8},
        [P9_TXATTRCREATE] = {op_xattrcreate, 0},
        [P9_TREADDIR] = {op_readdir, 4},
        [P9_TFSYNC] = {op_fsync, 0},
        [P9_TLOCK] = {op_lock, 1},
        [P9_TGETLOCK] = {op_getlock, 23},
        [P9_TLINK] = {op_link, 0},
        [P9_TMKDIR] = {op_mkdir, QID_SIZE},
        [P9_TRENAMEAT] = {op_renameat, 0},
        [P9_TUNLINKAT] = {op_unlinkat, 0},
        [P9_TVERSION] = {op_version, 4 + 2 + 8},
        [P9_TAUTH] = {op_auth, QID_SIZE},
        [P9_TATTACH] = {op_attach, QID_SIZE},
        [P9_TFLUSH] = {op_flush, 0},
        [P9_TWALK] = {op_walk, 2},
        [P9_TREAD] = {op_read, 4},
        [P9_TWRITE] = {op_write, 4},
        [P9_TCLUNK] = {op_clunk, 0},
        [P9_TREMOVE] = {op_remove, 0},
    };
    return ops[type].fn ? &ops[type] : NULL;
}

size_t p9_server_handle(struct p9_server *s, const uint8_t *msg, size_t len,
                        const struct iovec *iov, unsigned niov)
{
    if (len < P9_HDR) return 0; /* not even a tag to answer to */
    size_t cap = 0;
    for (unsigned i = 0; i < niov; i++) {
        if (iov[i].iov_len > SIZE_MAX - cap) return 0;
        cap += iov[i].iov_len;
    }
    pthread_mutex_lock(&s->lock);
    uint32_t msize = s->versioned ? s->msize : P9_MAX_MSIZE;
    if (cap > msize) cap = msize;
    struct req r = {.s = s, .iov = iov, .niov = niov};
    r.in.p = msg;
    r.in.len = len;
    uint32_t size = get32(&r.in);
    uint8_t type = get8(&r.in);
    uint16_t tag = get16(&r.in);
    r.out.b = s->rbuf;
    r.out.cap = cap;
    r.out.len = P9_HDR;
    int ret;
    if (cap < P9_HDR + 4) {
        pthread_mutex_unlock(&s->lock);
        return 0; /* no room for any reply */
    }
    const struct op_entry *op = op_lookup(type);
    if (size < P9_HDR || size > len) {
        ret = -EINVAL; /* the size field disagrees with the buffer */
    } else if (!op) {
        ret = -EOPNOTSUPP;
    } else if (!s->versioned && type != P9_TVERSION) {
        ret = -EPROTO; /* Tversion comes first */
    } else if (P9_HDR + (size_t)op->min_reply > cap) {
        ret = -EMSGSIZE;
    } else {
        r.in.len = size; /* bytes past the message are not part of it */
        ret = op->fn(&r);
        if (ret == 0 && r.out.over) ret = -EMSGSIZE;
    }
    if (ret < 0) {
        r.out.len = P9_HDR;
        r.out.over = 0;
        r.direct = 0;
        put32(&r.out, (uint32_t)-ret);
        type = P9_TLERROR;
    }
    uint8_t *h = s->rbuf;
    size_t total = r.out.len + r.direct;
    put_le32(h, (uint32_t)total);
    h[4] = (uint8_t)(type + 1);
    put_le16(h + 5, tag);
    iov_put(iov, niov, 0, s->rbuf, r.out.len);
    pthread_mutex_unlock(&s->lock);
    return total;
}

/* Open fids hold host descriptors: make room for a few sessions' worth (a
 * common soft limit is 1024, far below the usual hard limit). */
static void raise_nofile(void)
{
    const rlim_t want = 8192;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want) return;
    rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want) ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

struct p9_server *p9_server_new(const char *dir, int ro, char *err, size_t errlen)
{
    raise_nofile();
    struct p9_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->fs.root = -1;
    s->hash = malloc(FID_HASH * sizeof(*s->hash));
    s->rbuf = malloc(P9_MAX_MSIZE);
    s->dents = malloc(DENTS_BUF);
    s->slices = calloc(IOV_MAX_SLICES, sizeof(*s->slices));
    if (!s->hash || !s->rbuf || !s->dents || !s->slices) {
        snprintf(err, errlen, "out of memory");
        p9_server_free(s);
        return NULL;
    }
    if (fsdir_open(&s->fs, dir, ro, err, errlen) < 0) {
        p9_server_free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    fids_clear(s);
    s->msize = P9_MAX_MSIZE;
    return s;
}

void p9_server_reset(struct p9_server *s)
{
    pthread_mutex_lock(&s->lock);
    fids_clear(s);
    s->versioned = 0;
    s->msize = P9_MAX_MSIZE;
    pthread_mutex_unlock(&s->lock);
}

unsigned p9_server_nfids(struct p9_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->nfids;
    pthread_mutex_unlock(&s->lock);
    return n;
}

unsigned p9_server_nopen(struct p9_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->nopen;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void p9_server_free(struct p9_server *s)
{
    if (!s) return;
    if (s->fs.root >= 0) {
        fids_clear(s);
        pthread_mutex_destroy(&s->lock);
    }
    fsdir_close(&s->fs);
    for (unsigned c = 0; c < s->nslots / FID_CHUNK; c++)
        free(s->chunks[c]);
    free(s->hash);
    free(s->rbuf);
    free(s->dents);
    free(s->slices);
    free(s);
}

/* ---- snapshots (the record's layout is in 9p.h) ---- */

enum { SNAP_KIND_PATH = 1, SNAP_KIND_XATTR = 2 };

/* The 9P2000.L flags an open fid's host flags stand for. */
static uint32_t host_to_dotl(int h)
{
    uint32_t f = (h & O_ACCMODE) == O_WRONLY ? DOTL_WRONLY
                 : (h & O_ACCMODE) == O_RDWR ? DOTL_RDWR
                                             : 0;
    if (h & O_APPEND) f |= DOTL_APPEND;
    if ((h & O_SYNC) == O_SYNC)
        f |= DOTL_SYNC;
    else if (h & O_DSYNC)
        f |= DOTL_DSYNC;
    if (h & O_DIRECTORY) f |= DOTL_DIRECTORY;
    return f;
}

static void fid_save(const struct p9_fid *f, struct snap_w *w)
{
    int open = f->kind == FID_PATH && f->opened;
    snap_u32(w, f->id);
    snap_u32(w, f->kind == FID_PATH ? SNAP_KIND_PATH : SNAP_KIND_XATTR);
    snap_str(w, f->kind == FID_PATH ? f->path : "");
    snap_u32(w, (uint32_t)open);
    snap_u32(w, open ? host_to_dotl(f->oflags) : 0);
    snap_u32(w, open ? (uint32_t)f->is_dir : 0);
    snap_u64(w, open ? (uint64_t)f->dev : 0);
    snap_u64(w, open ? (uint64_t)f->ino : 0);
}

void p9_server_save(struct p9_server *s, struct snap_w *w)
{
    pthread_mutex_lock(&s->lock);
    snap_u32(w, P9_SNAP_FORMAT);
    snap_u32(w, (uint32_t)s->versioned);
    snap_u32(w, s->msize);
    snap_u32(w, s->nfids);
    for (unsigned i = 0; i < s->nslots; i++) {
        const struct p9_fid *f = fid_at(s, (int32_t)i);
        if (f->kind != FID_FREE) fid_save(f, w);
    }
    pthread_mutex_unlock(&s->lock);
}

/* One fid as read from a record, not yet checked. */
struct fid_rec {
    uint32_t id, kind, opened, flags, is_dir;
    uint64_t dev, ino;
    char path[FSDIR_PATH_MAX];
};

/* "" or components that a walk could have made: no "", ".", "..", at most
 * FSDIR_NAME_MAX bytes each (so nothing absolute either). */
static int snap_path_ok(const char *p)
{
    if (!*p) return 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (fsdir_check_name(p, n, 0) < 0) return 0;
        if (!slash) return 1;
        p = slash + 1;
    }
}

/* The open state of rec, checked; its host flags into *hf. */
static int snap_check_open(struct p9_server *s, const struct fid_rec *f, struct snap_r *r, int *hf)
{
    const uint32_t keep = DOTL_ACCMODE | DOTL_APPEND | DOTL_DSYNC | DOTL_SYNC | DOTL_DIRECTORY;
    *hf = 0;
    if (f->opened > 1 || f->is_dir > 1)
        return snap_fail(r, "9p: fid %u: opened %u, is_dir %u (want 0 or 1)", f->id, f->opened,
                         f->is_dir);
    if (!f->opened) {
        if (f->flags || f->is_dir || f->dev || f->ino)
            return snap_fail(r, "9p: fid %u is not open but has an open file's state", f->id);
        return 0;
    }
    if (f->kind != SNAP_KIND_PATH) return snap_fail(r, "9p: attribute fid %u is open", f->id);
    if ((f->flags & ~keep) || dotl_to_host(f->flags, hf) < 0)
        return snap_fail(r, "9p: fid %u: open flags 0%o are not an open file's", f->id, f->flags);
    int wr = (*hf & O_ACCMODE) != O_RDONLY;
    if (wr && s->fs.readonly)
        return snap_fail(r, "9p: fid %u is open for writing but the share is read-only", f->id);
    if (f->is_dir ? wr : (*hf & O_DIRECTORY) != 0)
        return snap_fail(r, "9p: fid %u: open flags 0%o do not fit a %s", f->id, f->flags,
                         f->is_dir ? "directory" : "file");
    if ((uint64_t)(dev_t)f->dev != f->dev || (uint64_t)(ino_t)f->ino != f->ino)
        return snap_fail(r, "9p: fid %u: file identity out of range", f->id);
    return 0;
}

static int snap_check_fid(struct p9_server *s, const struct fid_rec *f, struct snap_r *r, int *hf)
{
    if (f->id == P9_NOFID) return snap_fail(r, "9p: a fid with the id NOFID");
    if (fid_find(s, f->id)) return snap_fail(r, "9p: fid %u appears twice", f->id);
    if (f->kind != SNAP_KIND_PATH && f->kind != SNAP_KIND_XATTR)
        return snap_fail(r, "9p: fid %u of unknown kind %u", f->id, f->kind);
    if (f->kind == SNAP_KIND_XATTR && f->path[0])
        return snap_fail(r, "9p: attribute fid %u has a path", f->id);
    if (!snap_path_ok(f->path))
        return snap_fail(r,
                         "9p: fid %u: path '%.48s' is not below the share (absolute, or with "
                         "'.', '..', an empty or overlong component)",
                         f->id, f->path);
    return snap_check_open(s, f, r, hf);
}

/* The fid's path: a string of less than FSDIR_PATH_MAX bytes, no NUL. */
static int snap_path_get(struct snap_r *r, struct fid_rec *f)
{
    uint32_t n = snap_get_u32(r);
    f->path[0] = 0;
    if (r->err[0]) return -1;
    if (n >= sizeof(f->path))
        return snap_fail(r, "9p: fid %u: a path of %u bytes (at most %u)", f->id, n,
                         FSDIR_PATH_MAX - 1);
    if (!snap_get(r, f->path, n)) return -1;
    f->path[n] = 0;
    if (memchr(f->path, 0, n)) return snap_fail(r, "9p: fid %u: a path with a NUL byte", f->id);
    return 0;
}

/* Read, check and add one fid; an open one gets its descriptor back on
 * first use (fid_fd: same flags, same dev and ino, else ESTALE). */
static int fid_load(struct p9_server *s, struct snap_r *r, struct fid_rec *f)
{
    f->id = snap_get_u32(r);
    f->kind = snap_get_u32(r);
    if (snap_path_get(r, f) < 0) return -1;
    f->opened = snap_get_u32(r);
    f->flags = snap_get_u32(r);
    f->is_dir = snap_get_u32(r);
    f->dev = snap_get_u64(r);
    f->ino = snap_get_u64(r);
    int hf;
    if (r->err[0] || snap_check_fid(s, f, r, &hf) < 0) return -1;
    struct p9_fid *nf = fid_new(s, f->id, f->kind == SNAP_KIND_PATH ? FID_PATH : FID_XATTR);
    if (!nf) return snap_fail(r, "9p: no memory for fid %u", f->id);
    if (f->kind == SNAP_KIND_PATH && fid_set_path(s, nf, f->path) < 0)
        return snap_fail(r, "9p: the fids' paths take more than the session's %u MiB",
                         P9_MAX_PATH_BYTES >> 20);
    if (!f->opened) return 0;
    nf->opened = 1;
    nf->fd = -1; /* reopened on first use */
    nf->oflags = hf;
    nf->accmode = hf & O_ACCMODE;
    nf->is_dir = (int)f->is_dir;
    nf->dev = (dev_t)f->dev;
    nf->ino = (ino_t)f->ino;
    nf->last_use = ++s->clock;
    return 0;
}

static int session_load(struct p9_server *s, struct snap_r *r)
{
    uint32_t format = snap_get_u32(r), versioned = snap_get_u32(r);
    uint32_t msize = snap_get_u32(r), n = snap_get_u32(r);
    if (r->err[0]) return -1;
    if (format != P9_SNAP_FORMAT)
        return snap_fail(r, "9p: record format %u (this vmon reads %u)", format, P9_SNAP_FORMAT);
    if (versioned > 1) return snap_fail(r, "9p: versioned %u (want 0 or 1)", versioned);
    if (msize < P9_MIN_MSIZE || msize > P9_MAX_MSIZE)
        return snap_fail(r, "9p: msize %u outside %u..%u", msize, P9_MIN_MSIZE, P9_MAX_MSIZE);
    if (n > P9_MAX_FIDS)
        return snap_fail(r, "9p: %u fids (a session holds at most %u)", n, P9_MAX_FIDS);
    if (n && !versioned) return snap_fail(r, "9p: %u fids before any Tversion", n);
    s->versioned = (int)versioned;
    s->msize = msize;
    struct fid_rec *f = malloc(sizeof(*f));
    if (!f) return snap_fail(r, "9p: out of memory");
    int e = 0;
    for (uint32_t i = 0; i < n && e == 0; i++)
        e = fid_load(s, r, f);
    free(f);
    return e;
}

int p9_server_load(struct p9_server *s, struct snap_r *r)
{
    pthread_mutex_lock(&s->lock);
    fids_clear(s);
    int e = session_load(s, r);
    if (e < 0) {
        fids_clear(s);
        s->versioned = 0;
        s->msize = P9_MAX_MSIZE;
    }
    pthread_mutex_unlock(&s->lock);
    return e;
}

/* ---- the virtio device ---- */

#define VIRTIO_9P_MOUNT_TAG (1ull << 0)
#define P9_TAG_MAX          64
#define P9_QUEUE_SIZE       128
#define P9_NOTIFY_BATCH     16

struct p9_dev {
    struct virtio_dev *dev;
    struct p9_server *srv;
    uint8_t *msg; /* the current request, copied out of guest memory */
    uint8_t config[2 + P9_TAG_MAX];
    struct vq_req req;
    struct iovec iov[VQ_MAX_SEGS];
};

static void p9_work(struct virtio_dev *d)
{
    struct p9_dev *p = d->priv;
    unsigned since_notify = 0;
    for (;;) {
        struct vq_req *req = &p->req;
        if (vq_pop(d, 0, req) <= 0) break;
        size_t n = req->out_len < P9_MAX_MSIZE ? (size_t)req->out_len : P9_MAX_MSIZE;
        n = vq_req_read(req, 0, p->msg, n);
        unsigned niov = vq_req_iov(req, 1, 0, (size_t)req->in_len, p->iov, VQ_MAX_SEGS);
        size_t w = p9_server_handle(p->srv, p->msg, n, p->iov, niov);
        vq_push(d, 0, req, (uint32_t)w);
        if (++since_notify >= P9_NOTIFY_BATCH) {
            vq_notify(d, 0);
            since_notify = 0;
        }
    }
    vq_notify(d, 0);
}

static void p9_reset(struct virtio_dev *d)
{
    struct p9_dev *p = d->priv; /* the worker is idle (core) */
    p9_server_reset(p->srv);
}

static void p9_destroy(struct virtio_dev *d)
{
    struct p9_dev *p = d->priv; /* the core has stopped the worker */
    p9_server_free(p->srv);
    free(p->msg);
    free(p);
}

/* Snapshots: the session and its fids. No held op: p9_work returns every
 * request it pops before it goes idle (a Tflush too, requests being served
 * in order), and a snapshot is written with the worker idle, so the
 * device never holds a request across one. */
static void p9_save(struct virtio_dev *d, struct snap_w *w)
{
    struct p9_dev *p = d->priv;
    p9_server_save(p->srv, w);
}

static int p9_load(struct virtio_dev *d, struct snap_r *r)
{
    struct p9_dev *p = d->priv;
    return p9_server_load(p->srv, r);
}

static const struct virtio_dev_ops p9_ops = {
    .name = "virtio-9p",
    .reset = p9_reset,
    .destroy = p9_destroy,
    .work = p9_work,
    .save = p9_save,
    .load = p9_load,
};

int virtio_9p_create(struct vm *vm, const struct virtio_slot *slot, const char *tag,
                     struct p9_server *srv, char *err, size_t errlen)
{
    size_t tl = strlen(tag);
    if (tl == 0 || tl > P9_TAG_MAX) {
        snprintf(err, errlen, "tag must be 1 to %d characters (got %zu)", P9_TAG_MAX, tl);
        p9_server_free(srv);
        return -1;
    }
    struct p9_dev *p = calloc(1, sizeof(*p));
    if (p) p->msg = malloc(P9_MAX_MSIZE);
    if (!p || !p->msg) {
        snprintf(err, errlen, "out of memory");
        free(p);
        p9_server_free(srv);
        return -1;
    }
    p->srv = srv;
    /* It opens files by path under its directory while the VM runs. */
    if (vm_use_dir(vm, srv->fs.root, srv->fs.readonly ? VM_DIR_READ : VM_DIR_WRITE, err, errlen) <
        0) {
        p9_server_free(srv);
        free(p->msg);
        free(p);
        return -1;
    }
    put_le16(p->config, (uint16_t)tl);
    memcpy(p->config + 2, tag, tl);
    p->dev = virtio_mmio_create(vm, slot->base, slot->irq, VIRTIO_ID_9P, &p9_ops, p,
                                VIRTIO_9P_MOUNT_TAG | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX,
                                1, P9_QUEUE_SIZE, p->config, (unsigned)(2 + tl));
    if (!p->dev) {
        p9_server_free(p->srv);
        free(p->msg);
        free(p);
        snprintf(err, errlen, "cannot create the virtio-9p device");
        return -1;
    }
    return 0;
}
