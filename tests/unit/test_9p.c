/* 9P2000.L server (virtio/9p.h) driven with raw messages over a temporary
 * directory: session setup, walks that try to leave the share (".." at the
 * root, host symlinks pointing outside), malformed messages (truncated
 * strings, lying size fields, huge counts, bad and duplicate fids, names
 * with '/' or NUL), the fid and open-file limits, a read-only share, and a
 * burst of random messages. Every reply must be well formed, and nothing
 * outside the share may change. Snapshots: a session saved and loaded into
 * a fresh server keeps working through every fid; hostile records are
 * refused. */
#include "check.h"
#include "virtio/9p.h"
#include "backend/fsdir.h"
#include "snap/snap.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct check_ctx c;

/* ---- message building ---- */

struct mb {
    uint8_t b[P9_MAX_MSIZE + 64];
    size_t n;
};
static struct mb m;
static uint8_t rbuf[P9_MAX_MSIZE];
static size_t rlen; /* length of the last reply */

static void mb_start(uint8_t type)
{
    memset(m.b, 0, 7);
    m.b[4] = type;
    m.b[5] = 0x34;
    m.b[6] = 0x12; /* tag 0x1234 */
    m.n = 7;
}
static void p8(uint8_t v)
{
    m.b[m.n++] = v;
}
static void p16(uint16_t v)
{
    p8((uint8_t)v);
    p8((uint8_t)(v >> 8));
}
static void p32(uint32_t v)
{
    p16((uint16_t)v);
    p16((uint16_t)(v >> 16));
}
static void p64(uint64_t v)
{
    p32((uint32_t)v);
    p32((uint32_t)(v >> 32));
}
static void pstrn(const char *s, size_t n)
{
    p16((uint16_t)n);
    memcpy(m.b + m.n, s, n);
    m.n += n;
}
static void pstr(const char *s)
{
    pstrn(s, strlen(s));
}
static void mb_size(uint32_t size)
{
    m.b[0] = (uint8_t)size;
    m.b[1] = (uint8_t)(size >> 8);
    m.b[2] = (uint8_t)(size >> 16);
    m.b[3] = (uint8_t)(size >> 24);
}

static uint16_t g16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t g32(const uint8_t *p)
{
    return (uint32_t)g16(p) | (uint32_t)g16(p + 2) << 16;
}
static uint64_t g64(const uint8_t *p)
{
    return (uint64_t)g32(p) | (uint64_t)g32(p + 4) << 32;
}

/* Send the message as built (size field = its length) into a reply
 * buffer of cap bytes; returns the reply type, or 0 for no reply. The
 * reply must always be well formed. */
static int xfer_cap(struct p9_server *s, size_t cap)
{
    mb_size((uint32_t)m.n);
    struct iovec iov = {rbuf, cap};
    memset(rbuf, 0xee, 16);
    rlen = p9_server_handle(s, m.b, m.n, &iov, 1);
    if (!rlen) return 0;
    int type = rbuf[4];
    int ok = rlen >= 7 && rlen <= cap && g32(rbuf) == rlen && g16(rbuf + 5) == 0x1234 &&
             (type == m.b[4] + 1 || type == P9_RLERROR) && (type != P9_RLERROR || rlen == 11);
    if (!ok) /* counted only when it fails: every exchange goes through here */
        CHECK(&c, ok, "malformed reply to type %u: len %zu size %u type %d", m.b[4], rlen,
              g32(rbuf), type);
    return type;
}
static int xfer(struct p9_server *s)
{
    return xfer_cap(s, sizeof(rbuf));
}
/* 0 for success, or the Rlerror errno. */
static int xerr(struct p9_server *s)
{
    int t = xfer(s);
    if (t == P9_RLERROR) return (int)g32(rbuf + 7);
    return t ? 0 : -1;
}

/* ---- operations ---- */

static int t_version(struct p9_server *s, uint32_t msize, const char *v)
{
    mb_start(P9_TVERSION);
    p32(msize);
    pstr(v);
    return xerr(s);
}
static int t_attach(struct p9_server *s, uint32_t fid)
{
    mb_start(P9_TATTACH);
    p32(fid);
    p32(P9_NOFID);
    pstr("root");
    pstr("");
    p32(0);
    return xerr(s);
}
/* Walk; returns -errno for Rlerror, else the number of qids. */
static int t_walk(struct p9_server *s, uint32_t fid, uint32_t newfid, int n, const char **names)
{
    mb_start(P9_TWALK);
    p32(fid);
    p32(newfid);
    p16((uint16_t)n);
    for (int i = 0; i < n; i++)
        pstr(names[i]);
    int e = xerr(s);
    if (e) return -e;
    return g16(rbuf + 7);
}
static int walk1(struct p9_server *s, uint32_t fid, uint32_t newfid, const char *name)
{
    return t_walk(s, fid, newfid, name ? 1 : 0, &name);
}
/* qid of the i-th element of the last Rwalk */
static uint8_t walk_qtype(int i)
{
    return rbuf[9 + 13 * i];
}
static uint64_t walk_qpath(int i)
{
    return g64(rbuf + 9 + 13 * i + 5);
}
static int t_lopen(struct p9_server *s, uint32_t fid, uint32_t flags)
{
    mb_start(P9_TLOPEN);
    p32(fid);
    p32(flags);
    return xerr(s);
}
static int t_lcreate(struct p9_server *s, uint32_t fid, const char *name, uint32_t flags,
                     uint32_t mode)
{
    mb_start(P9_TLCREATE);
    p32(fid);
    pstr(name);
    p32(flags);
    p32(mode);
    p32(0);
    return xerr(s);
}
static int t_write(struct p9_server *s, uint32_t fid, uint64_t off, const void *d, uint32_t n)
{
    mb_start(P9_TWRITE);
    p32(fid);
    p64(off);
    p32(n);
    memcpy(m.b + m.n, d, n);
    m.n += n;
    int e = xerr(s);
    return e ? -e : (int)g32(rbuf + 7);
}
/* Read; returns -errno or the count, data at rbuf + 11. */
static int t_read(struct p9_server *s, uint32_t fid, uint64_t off, uint32_t n)
{
    mb_start(P9_TREAD);
    p32(fid);
    p64(off);
    p32(n);
    int e = xerr(s);
    return e ? -e : (int)g32(rbuf + 7);
}
static int t_clunk(struct p9_server *s, uint32_t fid)
{
    mb_start(P9_TCLUNK);
    p32(fid);
    return xerr(s);
}
static int t_mkdir(struct p9_server *s, uint32_t dfid, const char *name)
{
    mb_start(P9_TMKDIR);
    p32(dfid);
    pstr(name);
    p32(0755);
    p32(0);
    return xerr(s);
}
static int t_symlink(struct p9_server *s, uint32_t dfid, const char *name, const char *target)
{
    mb_start(P9_TSYMLINK);
    p32(dfid);
    pstr(name);
    pstr(target);
    p32(0);
    return xerr(s);
}
static int t_readlink(struct p9_server *s, uint32_t fid, char *out, size_t outlen)
{
    mb_start(P9_TREADLINK);
    p32(fid);
    int e = xerr(s);
    if (e) return e;
    size_t n = g16(rbuf + 7);
    if (n >= outlen) n = outlen - 1;
    memcpy(out, rbuf + 9, n);
    out[n] = 0;
    return 0;
}
static int t_renameat(struct p9_server *s, uint32_t ofid, const char *on, uint32_t nfid,
                      const char *nn)
{
    mb_start(P9_TRENAMEAT);
    p32(ofid);
    pstr(on);
    p32(nfid);
    pstr(nn);
    return xerr(s);
}
static int t_unlinkat(struct p9_server *s, uint32_t dfid, const char *name, uint32_t flags)
{
    mb_start(P9_TUNLINKAT);
    p32(dfid);
    pstr(name);
    p32(flags);
    return xerr(s);
}
static int t_getattr(struct p9_server *s, uint32_t fid)
{
    mb_start(P9_TGETATTR);
    p32(fid);
    p64(0x7ff);
    return xerr(s);
}
static uint64_t getattr_size(void)
{
    return g64(rbuf + 7 + 8 + 13 + 12 + 16);
}

/* ---- host fixtures ---- */

static char top[256], share[300], outside[300];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static int file_is(const char *path, const char *text)
{
    char buf[256] = {0};
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    return n == strlen(text) && !memcmp(buf, text, n);
}

/* Entries in dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", path, path);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", path);
}

static void setup_dirs(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(top, sizeof(top), "%s/vmon-9p-XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(top)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(share, sizeof(share), "%s/share", top);
    snprintf(outside, sizeof(outside), "%s/outside", top);
    char p[400];
    if (mkdir(share, 0755) || mkdir(outside, 0755)) exit(1);
    snprintf(p, sizeof(p), "%s/secret.txt", outside);
    write_file(p, "outside-secret\n");
    snprintf(p, sizeof(p), "%s/hello.txt", share);
    write_file(p, "hello 9p\n");
    snprintf(p, sizeof(p), "%s/sub", share);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/esc", share);
    if (symlink("/etc", p)) exit(1);
    snprintf(p, sizeof(p), "%s/up", share);
    if (symlink("../outside", p)) exit(1);
    snprintf(p, sizeof(p), "%s/upfile", share);
    if (symlink("../outside/secret.txt", p)) exit(1);
    snprintf(p, sizeof(p), "%s/fifo", share);
    mkfifo(p, 0644);
}

static void check_outside_untouched(const char *when)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/secret.txt", outside);
    CHECK(&c, file_is(p, "outside-secret\n"), "outside file changed (%s)", when);
    CHECK(&c, count_entries(outside) == 1, "outside dir has %d entries (%s)",
          count_entries(outside), when);
    CHECK(&c, count_entries(top) == 2, "top dir has %d entries (%s)", count_entries(top), when);
}

/* ---- tests ---- */

static struct p9_server *new_server(int ro)
{
    char err[256];
    struct p9_server *s = p9_server_new(share, ro, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "p9_server_new: %s\n", err);
        exit(1);
    }
    return s;
}

static void test_version(struct p9_server *s)
{
    /* Nothing before Tversion. */
    CHECK_EQ(&c, t_attach(s, 1), EPROTO);
    CHECK_EQ(&c, t_version(s, 100, "9P2000.L"), EINVAL); /* msize too small */
    CHECK_EQ(&c, t_version(s, 8192, "9P2000.u"), 0);
    CHECK(&c, rlen == 7 + 4 + 2 + 7 && !memcmp(rbuf + 13, "unknown", 7), "unknown version");
    CHECK_EQ(&c, t_attach(s, 1), EPROTO); /* still not versioned */
    CHECK_EQ(&c, t_version(s, 0xffffffffu, "9P2000.L"), 0);
    CHECK_EQ(&c, g32(rbuf + 7), P9_MAX_MSIZE); /* capped */
    CHECK_EQ(&c, t_version(s, 8192, "9P2000.L"), 0);
    CHECK_EQ(&c, g32(rbuf + 7), 8192);
    CHECK(&c, g16(rbuf + 11) == 8 && !memcmp(rbuf + 13, "9P2000.L", 8), "version string");
    /* Truncated version string. */
    mb_start(P9_TVERSION);
    p32(8192);
    p16(50);
    memcpy(m.b + m.n, "9P2000.L", 8);
    m.n += 8;
    CHECK_EQ(&c, xerr(s), EINVAL);
    CHECK_EQ(&c, t_version(s, 8192, "9P2000.L"), 0);
}

static void test_attach_walk(struct p9_server *s)
{
    CHECK_EQ(&c, t_attach(s, 1), 0);
    CHECK_EQ(&c, rbuf[7], 0x80); /* QTDIR */
    uint64_t root_ino = g64(rbuf + 12);
    struct stat st;
    stat(share, &st);
    CHECK_EQ(&c, root_ino, st.st_ino);
    CHECK_EQ(&c, t_attach(s, 1), EEXIST); /* duplicate fid */
    CHECK_EQ(&c, t_attach(s, P9_NOFID), EINVAL);

    /* ".." at the root stays at the root, however often. */
    const char *up3[] = {"..", "..", ".."};
    CHECK_EQ(&c, t_walk(s, 1, 2, 3, up3), 3);
    CHECK_EQ(&c, walk_qpath(2), root_ino);
    const char *sub_up[] = {"sub", "..", "..", "hello.txt"};
    CHECK_EQ(&c, t_walk(s, 2, 3, 4, sub_up), 4);
    CHECK_EQ(&c, walk_qtype(0), 0x80);
    CHECK_EQ(&c, walk_qpath(2), root_ino);
    CHECK_EQ(&c, t_lopen(s, 3, 0), 0);
    CHECK_EQ(&c, t_read(s, 3, 0, 100), 9);
    CHECK(&c, !memcmp(rbuf + 11, "hello 9p\n", 9), "read hello.txt through sub/../..");
    CHECK_EQ(&c, t_clunk(s, 3), 0);
    CHECK_EQ(&c, t_clunk(s, 3), EBADF);
    CHECK_EQ(&c, t_clunk(s, 2), 0);

    /* Host symlinks pointing outside: visible, never followed. */
    CHECK_EQ(&c, walk1(s, 1, 10, "esc"), 1);
    CHECK_EQ(&c, walk_qtype(0), 0x02); /* QTSYMLINK */
    char target[256];
    CHECK_EQ(&c, t_readlink(s, 10, target, sizeof(target)), 0);
    CHECK(&c, !strcmp(target, "/etc"), "readlink esc: %s", target);
    CHECK_EQ(&c, t_lopen(s, 10, 0), ELOOP);
    CHECK_EQ(&c, t_lcreate(s, 10, "x", 0101, 0644), ENOTDIR); /* creating "through" it */
    CHECK_EQ(&c, t_mkdir(s, 10, "d"), ENOTDIR);
    const char *esc_passwd[] = {"esc", "passwd"};
    int n = t_walk(s, 1, 11, 2, esc_passwd);
    CHECK(&c, n == 1 || n < 0, "walk esc/passwd: %d", n); /* stops at the link */
    CHECK_EQ(&c, t_clunk(s, 11), EBADF);                  /* a partial walk makes no fid */
    const char *up_secret[] = {"up", "secret.txt"};
    n = t_walk(s, 1, 11, 2, up_secret);
    CHECK(&c, n == 1 || n < 0, "walk up/secret.txt: %d", n);
    CHECK_EQ(&c, t_clunk(s, 11), EBADF);
    CHECK_EQ(&c, walk1(s, 1, 12, "upfile"), 1);
    CHECK_EQ(&c, t_lopen(s, 12, 0), ELOOP);
    CHECK_EQ(&c, t_lopen(s, 12, 02 | 01000), ELOOP); /* O_RDWR|O_TRUNC */
    mb_start(P9_TSETATTR);                           /* truncate through the link */
    p32(12);
    p32(0x008);
    p32(0);
    p32(0);
    p32(0);
    p64(0);
    p64(0);
    p64(0);
    p64(0);
    p64(0);
    CHECK(&c, xerr(s) != 0, "truncate through a symlink refused");
    CHECK_EQ(&c, t_clunk(s, 12), 0);
    CHECK_EQ(&c, t_clunk(s, 10), 0);

    /* A FIFO is never opened. */
    CHECK_EQ(&c, walk1(s, 1, 13, "fifo"), 1);
    CHECK_EQ(&c, t_lopen(s, 13, 0), EPERM);
    CHECK_EQ(&c, t_clunk(s, 13), 0);

    /* Names that are not a single component. */
    CHECK_EQ(&c, walk1(s, 1, 14, "sub/../../outside"), -EINVAL);
    CHECK_EQ(&c, walk1(s, 1, 14, "/etc"), -EINVAL);
    mb_start(P9_TWALK);
    p32(1);
    p32(14);
    p16(1);
    pstrn("hello.txt\0x", 11);
    CHECK_EQ(&c, xerr(s), EINVAL);
    CHECK_EQ(&c, walk1(s, 1, 14, ""), -EINVAL);
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[299] = 0;
    CHECK_EQ(&c, walk1(s, 1, 14, longname), -ENAMETOOLONG);
    CHECK_EQ(&c, walk1(s, 1, 14, "nonexistent"), -ENOENT);
    CHECK_EQ(&c, p9_server_nfids(s), 1);

    /* Bad and duplicate fids. */
    CHECK_EQ(&c, walk1(s, 77, 78, NULL), -EBADF);
    CHECK_EQ(&c, walk1(s, 1, 2, NULL), 0); /* clone */
    CHECK_EQ(&c, walk1(s, 1, 2, NULL), -EEXIST);
    CHECK_EQ(&c, walk1(s, 1, P9_NOFID, NULL), -EINVAL);
    CHECK_EQ(&c, t_lopen(s, 99, 0), EBADF);
    CHECK_EQ(&c, t_read(s, 2, 0, 10), -EBADF); /* not open */
    CHECK_EQ(&c, t_clunk(s, 2), 0);
    check_outside_untouched("walks");
}

static void test_files(struct p9_server *s)
{
    char p[400];
    CHECK_EQ(&c, walk1(s, 1, 20, NULL), 0);
    CHECK_EQ(&c, t_lcreate(s, 20, "new.txt", 0102, 0644), 0); /* O_RDWR|O_CREAT */
    CHECK_EQ(&c, t_write(s, 20, 0, "abcdef", 6), 6);
    CHECK_EQ(&c, t_read(s, 20, 2, 100), 4);
    CHECK(&c, !memcmp(rbuf + 11, "cdef", 4), "read back");
    CHECK_EQ(&c, t_getattr(s, 20), 0);
    CHECK_EQ(&c, getattr_size(), 6);
    /* Huge counts: a read is cut to the reply buffer, a write to the data. */
    CHECK_EQ(&c, t_read(s, 20, 0, 0xffffffffu), 6);
    mb_start(P9_TWRITE);
    p32(20);
    p64(6);
    p32(0xffffffffu);
    memcpy(m.b + m.n, "gh", 2);
    m.n += 2;
    CHECK_EQ(&c, xerr(s), 0);
    CHECK_EQ(&c, g32(rbuf + 7), 2);
    CHECK_EQ(&c, t_read(s, 20, 1ull << 63, 10), -EINVAL); /* offset beyond off_t */
    CHECK_EQ(&c, t_clunk(s, 20), 0);
    snprintf(p, sizeof(p), "%s/new.txt", share);
    CHECK(&c, file_is(p, "abcdefgh"), "host sees the written file");

    /* Bad names on creation. */
    CHECK_EQ(&c, walk1(s, 1, 21, NULL), 0);
    CHECK_EQ(&c, t_lcreate(s, 21, "..", 0101, 0644), EINVAL);
    CHECK_EQ(&c, t_lcreate(s, 21, ".", 0101, 0644), EINVAL);
    CHECK_EQ(&c, t_lcreate(s, 21, "a/b", 0101, 0644), EINVAL);
    CHECK_EQ(&c, t_mkdir(s, 1, ".."), EINVAL);
    CHECK_EQ(&c, t_mkdir(s, 1, "x/y"), EINVAL);
    CHECK_EQ(&c, t_symlink(s, 1, "../evil", "/etc/passwd"), EINVAL);
    CHECK_EQ(&c, t_renameat(s, 1, "new.txt", 1, "../moved"), EINVAL);
    CHECK_EQ(&c, t_unlinkat(s, 1, "..", 0), EINVAL);
    CHECK_EQ(&c, t_unlinkat(s, 1, "hello.txt", 0x1), EINVAL); /* unknown flag */
    CHECK_EQ(&c, t_clunk(s, 21), 0);

    /* mkdir, symlink, rename, unlink */
    CHECK_EQ(&c, t_mkdir(s, 1, "dir"), 0);
    CHECK_EQ(&c, t_mkdir(s, 1, "dir"), EEXIST);
    CHECK_EQ(&c, t_symlink(s, 1, "lnk", "../../../etc/shadow"), 0);
    CHECK_EQ(&c, walk1(s, 1, 22, "lnk"), 1);
    char target[256];
    CHECK_EQ(&c, t_readlink(s, 22, target, sizeof(target)), 0);
    CHECK(&c, !strcmp(target, "../../../etc/shadow"), "readlink: %s", target);
    CHECK_EQ(&c, t_lopen(s, 22, 0), ELOOP);
    CHECK_EQ(&c, t_clunk(s, 22), 0);
    CHECK_EQ(&c, walk1(s, 1, 23, "dir"), 1);
    CHECK_EQ(&c, t_renameat(s, 1, "new.txt", 23, "moved.txt"), 0);
    snprintf(p, sizeof(p), "%s/dir/moved.txt", share);
    CHECK(&c, file_is(p, "abcdefgh"), "renamed into dir");
    CHECK_EQ(&c, t_unlinkat(s, 23, "moved.txt", 0), 0);
    CHECK_EQ(&c, t_unlinkat(s, 1, "dir", 0), EISDIR);
    CHECK_EQ(&c, t_clunk(s, 23), 0);
    CHECK_EQ(&c, t_unlinkat(s, 1, "dir", 0x200), 0);
    CHECK_EQ(&c, t_unlinkat(s, 1, "lnk", 0), 0);
    /* The root cannot be removed or renamed. */
    CHECK_EQ(&c, walk1(s, 1, 24, NULL), 0);
    mb_start(P9_TREMOVE);
    p32(24);
    CHECK_EQ(&c, xerr(s), EBUSY);
    CHECK_EQ(&c, t_clunk(s, 24), EBADF); /* Tremove clunks anyway */
    check_outside_untouched("files");
}

static void test_malformed(struct p9_server *s)
{
    /* Fewer than 7 bytes: no reply at all. */
    struct iovec iov = {rbuf, sizeof(rbuf)};
    CHECK_EQ(&c, p9_server_handle(s, (const uint8_t *)"\x07\0\0\0d", 5, &iov, 1), 0);
    /* Reply buffer too small for any reply. */
    mb_start(P9_TCLUNK);
    p32(5555);
    CHECK_EQ(&c, xfer_cap(s, 10), 0);
    /* Reply buffer too small for the success reply: Rlerror, no action. */
    mb_start(P9_TGETATTR);
    p32(1);
    p64(0x7ff);
    CHECK_EQ(&c, xfer_cap(s, 20), P9_RLERROR);
    CHECK_EQ(&c, g32(rbuf + 7), EMSGSIZE);
    CHECK_EQ(&c, walk1(s, 1, 30, NULL), 0);
    mb_start(P9_TLCREATE);
    p32(30);
    pstr("nospace.txt");
    p32(0101);
    p32(0644);
    p32(0);
    CHECK_EQ(&c, xfer_cap(s, 12), P9_RLERROR);
    char p[400];
    snprintf(p, sizeof(p), "%s/nospace.txt", share);
    CHECK(&c, access(p, F_OK) != 0, "Tlcreate with no room for the reply created a file");
    CHECK_EQ(&c, t_clunk(s, 30), 0);

    /* Size field lying: larger than the buffer, smaller than a header. */
    mb_start(P9_TCLUNK);
    p32(1);
    mb_size((uint32_t)m.n + 100);
    rlen = p9_server_handle(s, m.b, m.n, &iov, 1);
    CHECK(&c, rlen == 11 && rbuf[4] == P9_RLERROR && g32(rbuf + 7) == EINVAL, "size > len");
    mb_size(3);
    rlen = p9_server_handle(s, m.b, m.n, &iov, 1);
    CHECK(&c, rlen == 11 && rbuf[4] == P9_RLERROR && g32(rbuf + 7) == EINVAL, "size < 7");
    CHECK_EQ(&c, p9_server_nfids(s), 1); /* fid 1 was not clunked */
    /* A size field shorter than the buffer: the rest is ignored, so the
     * message is truncated. */
    mb_start(P9_TCLUNK);
    p32(1);
    mb_size(9);
    rlen = p9_server_handle(s, m.b, m.n, &iov, 1);
    CHECK(&c, rlen == 11 && rbuf[4] == P9_RLERROR, "size cuts the body");
    CHECK_EQ(&c, p9_server_nfids(s), 1);

    /* Truncated fields and strings. */
    mb_start(P9_TWALK);
    p32(1);
    p32(31);
    p16(2);
    pstr("sub");
    p16(200); /* second name runs past the end */
    p8('x');
    CHECK_EQ(&c, xerr(s), EINVAL);
    mb_start(P9_TWALK);
    p32(1);
    p32(31);
    p16(0xffff); /* huge name count */
    CHECK_EQ(&c, xerr(s), EINVAL);
    mb_start(P9_TWALK);
    p32(1);
    p32(31);
    p16(17); /* one over the limit, all present */
    for (int i = 0; i < 17; i++)
        pstr("sub");
    CHECK_EQ(&c, xerr(s), EINVAL);
    CHECK_EQ(&c, p9_server_nfids(s), 1);
    mb_start(P9_TREAD);
    p32(1);
    CHECK_EQ(&c, xerr(s), EINVAL);
    mb_start(P9_TREADDIR);
    p32(1);
    p64(0);
    p32(0xffffffffu);
    CHECK_EQ(&c, xerr(s), EBADF); /* not open */
    mb_start(P9_TSYMLINK);
    p32(1);
    pstr("s");
    pstrn("a\0b", 3); /* NUL in the target */
    p32(0);
    CHECK_EQ(&c, xerr(s), EINVAL);
    /* Unknown and reply types. */
    mb_start(99);
    CHECK_EQ(&c, xerr(s), EOPNOTSUPP);
    mb_start(P9_TWALK + 1);
    CHECK_EQ(&c, xerr(s), EOPNOTSUPP);
    mb_start(0xff);
    CHECK_EQ(&c, xerr(s), EOPNOTSUPP);
    /* A reply spread over many small buffers is laid out in order. */
    CHECK_EQ(&c, walk1(s, 1, 32, "hello.txt"), 1);
    CHECK_EQ(&c, t_lopen(s, 32, 0), 0);
    mb_start(P9_TREAD);
    p32(32);
    p64(0);
    p32(100);
    mb_size((uint32_t)m.n);
    uint8_t small[7][3];
    struct iovec sv[7];
    for (int i = 0; i < 7; i++)
        sv[i] = (struct iovec){small[i], 3};
    size_t n = p9_server_handle(s, m.b, m.n, sv, 7);
    CHECK_EQ(&c, n, 20); /* 11 bytes of header and count, 9 of data */
    CHECK(&c, small[3][2] == 'h' && small[6][1] == '\n', "scattered read reply");
    CHECK_EQ(&c, t_clunk(s, 32), 0);
    check_outside_untouched("malformed");
}

static void test_limits(struct p9_server *s)
{
    unsigned have = p9_server_nfids(s);
    int failed = 0;
    for (uint32_t f = 1000; f < 1000 + P9_MAX_FIDS - have; f++)
        if (walk1(s, 1, f, NULL) != 0) failed++;
    CHECK_EQ(&c, failed, 0);
    CHECK_EQ(&c, p9_server_nfids(s), P9_MAX_FIDS);
    CHECK_EQ(&c, walk1(s, 1, 999, NULL), -EMFILE);
    CHECK_EQ(&c, t_attach(s, 999), EMFILE);
    for (uint32_t f = 1000 + P9_MAX_FIDS - have - 8; f < 1000 + P9_MAX_FIDS - have; f++)
        CHECK_EQ(&c, t_clunk(s, f), 0);
    /* More open fids than descriptors: the least recently used give
     * theirs back and get them again when used. */
    unsigned opened = 0;
    int e = 0;
    for (uint32_t f = 1000; f < 1000 + P9_MAX_OPEN + 300; f++) {
        e = walk1(s, f, f, "hello.txt") == 1 ? 0 : -1; /* the fid moves to the file */
        if (!e) e = t_lopen(s, f, 0);
        if (e) break;
        opened++;
    }
    CHECK_EQ(&c, opened, P9_MAX_OPEN + 300);
    CHECK(&c, p9_server_nopen(s) <= P9_MAX_OPEN, "%u descriptors", p9_server_nopen(s));
    int bad_reads = 0;
    for (uint32_t f = 1000; f < 1000 + P9_MAX_OPEN + 300; f += 7) {
        int n = t_read(s, f, 0, 100);
        if (n != 9 || memcmp(rbuf + 11, "hello 9p\n", 9)) {
            if (!bad_reads) fprintf(stderr, "read fid %u: %d\n", f, n);
            bad_reads++;
        }
    }
    CHECK_EQ(&c, bad_reads, 0);
    CHECK(&c, p9_server_nopen(s) <= P9_MAX_OPEN, "%u descriptors", p9_server_nopen(s));
    /* A file replaced on the host while its fid's descriptor was
     * reclaimed: ESTALE, never the other file. */
    char p1[400], p2[400];
    snprintf(p1, sizeof(p1), "%s/victim.txt", share);
    snprintf(p2, sizeof(p2), "%s/victim.new", share);
    write_file(p1, "first\n");
    CHECK_EQ(&c, walk1(s, 1, 500, "victim.txt"), 1);
    CHECK_EQ(&c, t_lopen(s, 500, 0), 0);
    /* and one unlinked while open: never reclaimed, still readable */
    CHECK_EQ(&c, walk1(s, 1, 501, "new-unlinked.txt"), -ENOENT);
    CHECK_EQ(&c, walk1(s, 1, 501, NULL), 0);
    CHECK_EQ(&c, t_lcreate(s, 501, "unlinked.txt", 02, 0644), 0);
    CHECK_EQ(&c, t_write(s, 501, 0, "still here", 10), 10);
    CHECK_EQ(&c, t_unlinkat(s, 1, "unlinked.txt", 0), 0);
    for (uint32_t f = 1000; f < 1000 + P9_MAX_OPEN + 300; f++)
        t_read(s, f, 0, 1); /* churn */
    write_file(p2, "second\n");
    CHECK_EQ(&c, rename(p2, p1), 0);
    CHECK_EQ(&c, t_read(s, 500, 0, 100), -ESTALE);
    CHECK_EQ(&c, t_read(s, 501, 0, 100), 10);
    CHECK(&c, !memcmp(rbuf + 11, "still here", 10), "unlinked file read back");
    unlink(p1);

    /* A new session forgets every fid. */
    CHECK_EQ(&c, t_version(s, 8192, "9P2000.L"), 0);
    CHECK_EQ(&c, p9_server_nfids(s), 0);
    CHECK_EQ(&c, t_attach(s, 1), 0);
    CHECK_EQ(&c, walk1(s, 1, 2, NULL), 0);
    CHECK_EQ(&c, t_lopen(s, 2, 0), 0); /* open count was reset too */
    CHECK_EQ(&c, t_clunk(s, 2), 0);

    /* The fids' paths have a memory budget: clones of a fid with a path of
     * almost FSDIR_PATH_MAX bytes run into it (ENOMEM), and clunking
     * gives the memory back. */
    char p[FSDIR_PATH_MAX + 400], comp[256];
    memset(comp, 'd', 250);
    comp[250] = 0;
    snprintf(p, sizeof(p), "%s", share);
    const char *names[15];
    for (int i = 0; i < 15; i++) {
        size_t l = strlen(p);
        snprintf(p + l, sizeof(p) - l, "/%s", comp);
        mkdir(p, 0755);
        names[i] = comp;
    }
    CHECK_EQ(&c, t_walk(s, 1, 3, 15, names), 15);
    unsigned made = 0;
    int err = 0;
    for (uint32_t f = 100000; f < 100000 + P9_MAX_PATH_BYTES / 3000 + 10; f++) {
        int r = walk1(s, 3, f, NULL);
        if (r < 0) {
            err = -r;
            break;
        }
        made++;
    }
    CHECK_EQ(&c, err, ENOMEM);
    CHECK(&c,
          made > P9_MAX_PATH_BYTES / (15 * 251) - 10 &&
              made <= P9_MAX_PATH_BYTES / (15 * 251), /* 15 x 250 + 14 slashes + NUL */
          "%u clones within the path budget", made);
    CHECK_EQ(&c, t_clunk(s, 100000), 0);
    CHECK_EQ(&c, walk1(s, 3, 100000, NULL), 0);
    CHECK_EQ(&c, t_version(s, 8192, "9P2000.L"), 0);
    CHECK_EQ(&c, t_attach(s, 1), 0);
    snprintf(p, sizeof(p), "%s/%s", share, comp);
    char cmd[FSDIR_PATH_MAX + 100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
    CHECK_EQ(&c, system(cmd), 0);
}

static void test_readonly(void)
{
    struct p9_server *s = new_server(1);
    CHECK_EQ(&c, t_version(s, 8192, "9P2000.L"), 0);
    CHECK_EQ(&c, t_attach(s, 1), 0);
    CHECK_EQ(&c, walk1(s, 1, 2, NULL), 0);
    CHECK_EQ(&c, t_lcreate(s, 2, "ro.txt", 0101, 0644), EROFS);
    CHECK_EQ(&c, t_mkdir(s, 1, "rodir"), EROFS);
    CHECK_EQ(&c, t_symlink(s, 1, "rolink", "x"), EROFS);
    CHECK_EQ(&c, t_unlinkat(s, 1, "hello.txt", 0), EROFS);
    CHECK_EQ(&c, t_renameat(s, 1, "hello.txt", 1, "x"), EROFS);
    CHECK_EQ(&c, walk1(s, 1, 3, "hello.txt"), 1);
    CHECK_EQ(&c, t_lopen(s, 3, 1), EROFS);     /* O_WRONLY */
    CHECK_EQ(&c, t_lopen(s, 3, 01000), EROFS); /* O_TRUNC */
    CHECK_EQ(&c, t_lopen(s, 3, 0), 0);
    CHECK_EQ(&c, t_write(s, 3, 0, "x", 1), -EROFS);
    CHECK_EQ(&c, t_read(s, 3, 0, 100), 9);
    char p[400];
    snprintf(p, sizeof(p), "%s/hello.txt", share);
    CHECK(&c, file_is(p, "hello 9p\n"), "read-only share unchanged");
    CHECK_EQ(&c, count_entries(share), 6);
    p9_server_free(s);
}

/* Random messages, biased towards valid headers and small fids, over a
 * session with a few fids: replies stay well formed and nothing outside
 * the share changes. */
static void test_random(void)
{
    struct p9_server *s = new_server(0);
    static const uint8_t types[] = {8,   12,  14,  16,  18,  20,  22,  24, 26, 30,
                                    32,  40,  50,  52,  54,  70,  72,  74, 76, 100,
                                    102, 104, 108, 110, 116, 118, 120, 122};
    static const char *names[] = {"..", ".",      "sub", "hello.txt", "esc",
                                  "up", "upfile", "r",   "fifo"};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    unsigned bad = 0;
    for (int i = 0; i < 30000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if (i % 500 == 0) {
            t_version(s, 8192 + (unsigned)(seed % 65536), "9P2000.L");
            t_attach(s, 0);
            continue;
        }
        mb_start(types[seed % sizeof(types)]);
        uint64_t r = seed >> 8;
        unsigned nf = 1 + (unsigned)(r % 6);
        for (unsigned k = 0; k < nf; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            switch ((r >> 33) % 6) {
            case 0: p32((uint32_t)((r >> 40) % 4)); break;
            case 1: pstr(names[(r >> 40) % (sizeof(names) / sizeof(names[0]))]); break;
            case 2: p16((uint16_t)(r >> 40)); break;
            case 3: p64(r >> 20); break;
            case 4: p32((uint32_t)(r >> 30) & 0x7ffff); break;
            default: p8((uint8_t)(r >> 40)); break;
            }
        }
        size_t cap = (r & 1) ? sizeof(rbuf) : 7 + (size_t)((r >> 8) % 200);
        if (m.b[4] == P9_TREAD && (r & 2)) cap = sizeof(rbuf);
        unsigned before = c.failed;
        xfer_cap(s, cap);
        if (c.failed != before) bad++;
        if (bad > 5) break;
    }
    p9_server_free(s);
    CHECK(&c, bad == 0, "%u malformed replies to random messages", bad);
    check_outside_untouched("random messages");
}

/* backend/fsdir directly, with openat2 and with the per-component
 * fallback used where the kernel lacks it. */
static void test_fsdir(int force_fallback)
{
    struct fsdir fs;
    char err[256];
    CHECK_EQ(&c, fsdir_open(&fs, share, 0, err, sizeof(err)), 0);
    if (force_fallback) fs.use_openat2 = 0;
    const char *mode = force_fallback ? "fallback" : "openat2";
    int fd = fsdir_resolve(&fs, "hello.txt", O_RDONLY);
    CHECK(&c, fd >= 0, "%s: open hello.txt: %d", mode, fd);
    if (fd >= 0) close(fd);
    fd = fsdir_resolve(&fs, "", O_PATH | O_DIRECTORY);
    CHECK(&c, fd >= 0, "%s: open the root: %d", mode, fd);
    if (fd >= 0) close(fd);
    /* symlinks: the last component opens as the link with O_PATH, never
     * through it; as an intermediate component, never. */
    fd = fsdir_resolve(&fs, "esc", O_PATH);
    struct stat st;
    CHECK(&c, fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode), "%s: O_PATH of a link", mode);
    if (fd >= 0) close(fd);
    CHECK_EQ(&c, fsdir_resolve(&fs, "esc", O_RDONLY), -ELOOP);
    fd = fsdir_resolve(&fs, "esc/passwd", O_RDONLY);
    CHECK(&c, fd < 0, "%s: through /etc link: %d", mode, fd);
    fd = fsdir_resolve(&fs, "up/secret.txt", O_RDONLY);
    CHECK(&c, fd < 0, "%s: through ../outside link: %d", mode, fd);
    fd = fsdir_resolve(&fs, "upfile", O_WRONLY | O_TRUNC);
    CHECK(&c, fd < 0, "%s: write through a link: %d", mode, fd);
    fd = fsdir_resolve(&fs, "up", O_PATH | O_DIRECTORY);
    CHECK(&c, fd < 0, "%s: link as a directory: %d", mode, fd);
    /* paths that are not confined are refused */
    CHECK(&c, fsdir_resolve(&fs, "/etc/passwd", O_RDONLY) < 0, "%s: absolute path", mode);
    CHECK(&c, fsdir_resolve(&fs, "../outside/secret.txt", O_RDONLY) < 0, "%s: ..", mode);
    CHECK(&c, fsdir_resolve(&fs, "sub/../../outside/secret.txt", O_RDONLY) < 0, "%s: sub/../..",
          mode);
    CHECK_EQ(&c, fsdir_resolve(&fs, "new", O_RDWR | O_CREAT), -EINVAL);
    const char *name;
    fd = fsdir_parent(&fs, "esc/x", &name);
    CHECK(&c, fd < 0, "%s: parent through a link: %d", mode, fd);
    fd = fsdir_parent(&fs, "sub/x", &name);
    CHECK(&c, fd >= 0 && !strcmp(name, "x"), "%s: parent of sub/x", mode);
    if (fd >= 0) close(fd);
    fsdir_close(&fs);
    /* join and name rules */
    char out[FSDIR_PATH_MAX];
    CHECK(&c, fsdir_join(out, sizeof(out), "", "..") == 0 && !strcmp(out, ""), "join root/..");
    CHECK(&c, fsdir_join(out, sizeof(out), "a/b", "..") == 0 && !strcmp(out, "a"), "join a/b/..");
    CHECK(&c, fsdir_join(out, sizeof(out), "a", "b") == 0 && !strcmp(out, "a/b"), "join a b");
    CHECK_EQ(&c, fsdir_check_name("a/b", 3, 1), -EINVAL);
    CHECK_EQ(&c, fsdir_check_name("a\0b", 3, 1), -EINVAL);
    CHECK_EQ(&c, fsdir_check_name("..", 2, 0), -EINVAL);
    CHECK_EQ(&c, fsdir_check_name("..", 2, 1), 0);
    CHECK(&c, fsdir_is_below("ab/c", "ab") && !fsdir_is_below("abc", "ab"), "is_below");
}

/* ---- snapshots: p9_server_save / p9_server_load ---- */

static int t_readdir(struct p9_server *s, uint32_t fid, uint64_t off, uint32_t count)
{
    mb_start(P9_TREADDIR);
    p32(fid);
    p64(off);
    p32(count);
    int e = xerr(s);
    return e ? -e : (int)g32(rbuf + 7);
}
static int t_xattrwalk(struct p9_server *s, uint32_t fid, uint32_t newfid)
{
    mb_start(P9_TXATTRWALK);
    p32(fid);
    p32(newfid);
    pstr("");
    return xerr(s);
}

/* Load the record w holds (its first len bytes) into s: 0 or -1, with the
 * reader's message in err. */
static int load_bytes(struct p9_server *s, const struct snap_w *w, size_t len, char *err,
                      size_t errlen)
{
    struct snap_r r = {.p = w->buf, .len = len};
    int e = p9_server_load(s, &r);
    if (e == 0) e = snap_done(&r);
    snprintf(err, errlen, "%s", r.err);
    return e;
}

#define SNAP_DIR   "snapdir"
#define SNAP_BIG   20000u
#define SNAP_MSIZE 8192u

static uint8_t big_byte(unsigned i)
{
    return (uint8_t)(i * 7 + i / 251);
}

static void snap_fixtures(void)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/" SNAP_DIR, share);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/" SNAP_DIR "/sub", share);
    mkdir(p, 0755);
    const char *files[] = {"sub/a", "sub/b", "sub/c", "log.txt", "victim.txt"};
    for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/" SNAP_DIR "/%s", share, files[i]);
        write_file(p, i == 3 ? "a\n" : files[i]);
    }
    snprintf(p, sizeof(p), "%s/" SNAP_DIR "/big.bin", share);
    FILE *f = fopen(p, "w");
    for (unsigned i = 0; f && i < SNAP_BIG; i++)
        fputc(big_byte(i), f);
    if (f) fclose(f);
}

static int big_read_ok(int n)
{
    for (int i = 0; i < n; i++)
        if (rbuf[11 + i] != big_byte((unsigned)i)) return 0;
    return 1;
}

/* The session saved: fid 1 the root, 2 an open directory (listed into
 * dir/dirlen), 3 a file open for reading, 4 one created read-write, 5 one
 * open for appending, 6 a walked directory, 7 an attribute fid, 8 a file
 * open for reading that the host will replace. */
static struct p9_server *snap_session(uint8_t *dir, int *dirlen)
{
    struct p9_server *s = new_server(0);
    CHECK_EQ(&c, t_version(s, SNAP_MSIZE, "9P2000.L"), 0);
    CHECK_EQ(&c, t_attach(s, 1), 0);
    const char *sub[] = {SNAP_DIR, "sub"}, *big[] = {SNAP_DIR, "big.bin"};
    const char *log[] = {SNAP_DIR, "log.txt"}, *victim[] = {SNAP_DIR, "victim.txt"};
    CHECK_EQ(&c, t_walk(s, 1, 2, 2, sub), 2);
    CHECK_EQ(&c, t_lopen(s, 2, 0200000), 0); /* O_DIRECTORY */
    *dirlen = t_readdir(s, 2, 0, 4000);
    CHECK(&c, *dirlen > 0, "readdir before the snapshot: %d", *dirlen);
    if (*dirlen > 0) memcpy(dir, rbuf + 11, (size_t)*dirlen);
    CHECK_EQ(&c, t_walk(s, 1, 3, 2, big), 2);
    CHECK_EQ(&c, t_lopen(s, 3, 0), 0);
    CHECK_EQ(&c, walk1(s, 1, 4, SNAP_DIR), 1);
    CHECK_EQ(&c, t_lcreate(s, 4, "rw.txt", 0102, 0644), 0); /* O_RDWR|O_CREAT */
    CHECK_EQ(&c, t_write(s, 4, 0, "0123456789", 10), 10);
    CHECK_EQ(&c, t_walk(s, 1, 5, 2, log), 2);
    CHECK_EQ(&c, t_lopen(s, 5, 02001), 0); /* O_WRONLY|O_APPEND */
    CHECK_EQ(&c, t_write(s, 5, 0, "b\n", 2), 2);
    CHECK_EQ(&c, t_walk(s, 1, 6, 2, sub), 2);
    CHECK_EQ(&c, t_xattrwalk(s, 1, 7), 0);
    CHECK_EQ(&c, t_walk(s, 1, 8, 2, victim), 2);
    CHECK_EQ(&c, t_lopen(s, 8, 0), 0);
    CHECK_EQ(&c, p9_server_nfids(s), 8);
    CHECK_EQ(&c, p9_server_nopen(s), 5);
    return s;
}

/* Every fid of the restored session does what it did before. */
static void snap_check_restored(struct p9_server *s, const uint8_t *dir, int dirlen)
{
    char p[400];
    CHECK_EQ(&c, p9_server_nfids(s), 8);
    CHECK_EQ(&c, p9_server_nopen(s), 0); /* reopened on use */
    int n = t_read(s, 3, 0, SNAP_BIG);
    CHECK_EQ(&c, n, SNAP_MSIZE - 11); /* the saved msize still rules */
    CHECK(&c, n > 0 && big_read_ok(n), "read through the restored fid");
    CHECK_EQ(&c, t_write(s, 3, 0, "x", 1), -EBADF); /* still read-only */
    CHECK_EQ(&c, t_lopen(s, 3, 0), EINVAL);         /* still open */
    CHECK_EQ(&c, t_write(s, 4, 10, "abc", 3), 3);
    CHECK_EQ(&c, t_read(s, 4, 0, 100), 13);
    CHECK(&c, !memcmp(rbuf + 11, "0123456789abc", 13), "read-write fid");
    CHECK_EQ(&c, t_write(s, 5, 0, "c\n", 2), 2);
    snprintf(p, sizeof(p), "%s/" SNAP_DIR "/log.txt", share);
    CHECK(&c, file_is(p, "a\nb\nc\n"), "the appending fid still appends");
    CHECK_EQ(&c, t_readdir(s, 2, 0, 4000), dirlen);
    CHECK(&c, !memcmp(rbuf + 11, dir, (size_t)dirlen), "the same directory listing");
    CHECK_EQ(&c, walk1(s, 6, 9, "a"), 1);
    CHECK_EQ(&c, t_lopen(s, 9, 0), 0);
    CHECK_EQ(&c, t_read(s, 9, 0, 100), 5);
    CHECK(&c, !memcmp(rbuf + 11, "sub/a", 5), "walk from a restored fid");
    CHECK_EQ(&c, t_read(s, 7, 0, 100), 0); /* the attribute fid */
    CHECK_EQ(&c, t_read(s, 8, 0, 100), -ESTALE);
    CHECK_EQ(&c, t_getattr(s, 1), 0);
    CHECK_EQ(&c, p9_server_nopen(s), 5);
    CHECK_EQ(&c, t_clunk(s, 3), 0);
    CHECK_EQ(&c, p9_server_nopen(s), 4);
}

static void test_snap_roundtrip(void)
{
    static uint8_t dir[4096];
    int dirlen = 0;
    snap_fixtures();
    struct p9_server *s = snap_session(dir, &dirlen);
    struct snap_w w, w2;
    snap_w_init(&w);
    snap_w_init(&w2);
    p9_server_save(s, &w);
    CHECK(&c, !w.oom && w.len > 16, "saved %zu bytes", w.len);
    p9_server_free(s); /* as a killed vmon: every descriptor gone */
    char p1[400], p2[400], err[200];
    snprintf(p1, sizeof(p1), "%s/" SNAP_DIR "/victim.txt", share);
    snprintf(p2, sizeof(p2), "%s/" SNAP_DIR "/victim.new", share);
    write_file(p2, "replaced");
    CHECK_EQ(&c, rename(p2, p1), 0);
    s = new_server(0);
    CHECK_EQ(&c, t_version(s, 65536, "9P2000.L"), 0); /* a session to be replaced */
    CHECK_EQ(&c, t_attach(s, 42), 0);
    CHECK(&c, load_bytes(s, &w, w.len, err, sizeof(err)) == 0, "load: %s", err);
    p9_server_save(s, &w2); /* the same record again, before anything changes */
    CHECK(&c, w2.len == w.len && !memcmp(w.buf, w2.buf, w.len), "saved again: the same record");
    CHECK_EQ(&c, t_clunk(s, 42), EBADF);
    snap_check_restored(s, dir, dirlen);
    /* Every truncation is refused and leaves an empty session. */
    unsigned bad = 0;
    for (size_t len = 0; len < w.len; len++)
        if (load_bytes(s, &w, len, err, sizeof(err)) == 0 || p9_server_nfids(s) != 0) bad++;
    CHECK_EQ(&c, bad, 0);
    CHECK_EQ(&c, t_attach(s, 1), EPROTO); /* no session after a refused record */
    snap_w_free(&w);
    snap_w_free(&w2);
    p9_server_free(s);
}

/* ---- hostile records ---- */

static void rec_head(struct snap_w *w, uint32_t format, uint32_t versioned, uint32_t msize,
                     uint32_t n)
{
    snap_w_free(w);
    snap_u32(w, format);
    snap_u32(w, versioned);
    snap_u32(w, msize);
    snap_u32(w, n);
}
struct rec_fid {
    uint32_t id, kind;
    const char *path;
    size_t plen; /* 0: strlen(path) */
    uint32_t opened, flags, is_dir;
    uint64_t dev, ino;
};
static void rec_fid(struct snap_w *w, struct rec_fid f)
{
    size_t n = f.plen ? f.plen : strlen(f.path);
    snap_u32(w, f.id);
    snap_u32(w, f.kind);
    snap_u32(w, (uint32_t)n);
    snap_put(w, f.path, n);
    snap_u32(w, f.opened);
    snap_u32(w, f.flags);
    snap_u32(w, f.is_dir);
    snap_u64(w, f.dev);
    snap_u64(w, f.ino);
}
/* Change the record's fid count. */
static void put_count(struct snap_w *w, uint32_t n)
{
    for (unsigned i = 0; i < 4; i++)
        w->buf[12 + i] = (uint8_t)(n >> (8 * i));
}
/* A session of one fid f. */
static void rec_one(struct snap_w *w, struct rec_fid f)
{
    rec_head(w, P9_SNAP_FORMAT, 1, SNAP_MSIZE, 1);
    rec_fid(w, f);
}

/* The record is refused with a message containing want, leaving s empty. */
static void refused(struct p9_server *s, struct snap_w *w, const char *want, const char *what)
{
    char err[200];
    int e = load_bytes(s, w, w->len, err, sizeof(err));
    CHECK(&c, e < 0 && strstr(err, want) && p9_server_nfids(s) == 0, "%s: %d '%s'", what, e, err);
}

static void test_snap_bad_paths(struct p9_server *s, struct snap_w *w)
{
    static const char *paths[] = {"../outside", "/etc/passwd", "sub/../..", "a//b", "sub/",     ".",
                                  "..",         "a/./b",       "/",         "a/..", "x/../../y"};
    for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        rec_one(w, (struct rec_fid){.id = 1, .kind = 1, .path = paths[i]});
        refused(s, w, "not below the share", paths[i]);
    }
    rec_one(w, (struct rec_fid){.id = 1, .kind = 1, .path = "sub\0x", .plen = 5});
    refused(s, w, "NUL", "a NUL in the path");
    static char longp[FSDIR_PATH_MAX + 10];
    memset(longp, 'a', 300);
    longp[300] = 0;
    rec_one(w, (struct rec_fid){.id = 1, .kind = 1, .path = longp});
    refused(s, w, "not below the share", "a 300-byte component");
    memset(longp, 'a', sizeof(longp) - 1);
    for (unsigned i = 200; i < sizeof(longp) - 1; i += 200)
        longp[i] = '/';
    rec_one(w, (struct rec_fid){.id = 1, .kind = 1, .path = longp});
    refused(s, w, "at most 4095", "a path longer than FSDIR_PATH_MAX");
    rec_head(w, P9_SNAP_FORMAT, 1, SNAP_MSIZE, 1);
    snap_u32(w, 1);
    snap_u32(w, 1);
    snap_u32(w, 0xffffffffu); /* path length */
    refused(s, w, "bytes (at most", "a path length of 4 GiB");
}

static void test_snap_bad_fids(struct p9_server *s, struct snap_w *w)
{
    rec_head(w, P9_SNAP_FORMAT, 1, SNAP_MSIZE, 2);
    rec_fid(w, (struct rec_fid){.id = 5, .kind = 1, .path = "sub"});
    rec_fid(w, (struct rec_fid){.id = 5, .kind = 1, .path = ""});
    refused(s, w, "twice", "duplicate fid ids");
    rec_one(w, (struct rec_fid){.id = P9_NOFID, .kind = 1, .path = ""});
    refused(s, w, "NOFID", "fid NOFID");
    rec_one(w, (struct rec_fid){.id = 1, .kind = 3, .path = ""});
    refused(s, w, "unknown kind", "unknown kind");
    rec_one(w, (struct rec_fid){.id = 1, .kind = 2, .path = "sub"});
    refused(s, w, "has a path", "attribute fid with a path");
    rec_one(w, (struct rec_fid){.id = 1, .kind = 2, .path = "", .opened = 1});
    refused(s, w, "is open", "open attribute fid");
    rec_one(w, (struct rec_fid){.id = 1, .kind = 1, .path = "", .opened = 2});
    refused(s, w, "want 0 or 1", "opened 2");
    rec_one(w, (struct rec_fid){.id = 1, .kind = 1, .path = "hello.txt", .flags = 2});
    refused(s, w, "not open but", "flags on a fid that is not open");
    static const uint32_t flags[] = {01000, 0100, 0200, 03, 0x80000000u};
    for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        rec_one(
            w,
            (struct rec_fid){
                .id = 1, .kind = 1, .path = "hello.txt", .opened = 1, .flags = flags[i], .ino = 1});
        refused(s, w, "not an open file's", "open flags");
    }
    rec_one(w, (struct rec_fid){
                   .id = 1, .kind = 1, .path = "sub", .opened = 1, .flags = 2, .is_dir = 1});
    refused(s, w, "do not fit a directory", "a directory open for writing");
    rec_one(w, (struct rec_fid){
                   .id = 1, .kind = 1, .path = "hello.txt", .opened = 1, .flags = 0200000});
    refused(s, w, "do not fit a file", "a file open with O_DIRECTORY");
}

static void test_snap_bad_session(struct p9_server *s, struct snap_w *w)
{
    rec_head(w, P9_SNAP_FORMAT + 1, 1, SNAP_MSIZE, 0);
    refused(s, w, "record format", "unknown format");
    rec_head(w, P9_SNAP_FORMAT, 2, SNAP_MSIZE, 0);
    refused(s, w, "versioned", "versioned 2");
    rec_head(w, P9_SNAP_FORMAT, 1, P9_MIN_MSIZE - 1, 0);
    refused(s, w, "msize", "msize too small");
    rec_head(w, P9_SNAP_FORMAT, 1, P9_MAX_MSIZE + 1, 0);
    refused(s, w, "msize", "msize too large");
    rec_head(w, P9_SNAP_FORMAT, 0, SNAP_MSIZE, 1);
    rec_fid(w, (struct rec_fid){.id = 1, .kind = 1, .path = ""});
    refused(s, w, "before any Tversion", "fids without a version");
    rec_head(w, P9_SNAP_FORMAT, 1, SNAP_MSIZE, P9_MAX_FIDS + 1);
    refused(s, w, "at most", "too many fids");
    rec_head(w, P9_SNAP_FORMAT, 1, SNAP_MSIZE, 3);
    rec_fid(w, (struct rec_fid){.id = 1, .kind = 1, .path = ""});
    refused(s, w, "ends early", "fewer fids than announced");
    /* As many fids as a session may hold: loaded; one more: refused. */
    rec_head(w, P9_SNAP_FORMAT, 1, SNAP_MSIZE, P9_MAX_FIDS);
    for (uint32_t i = 0; i < P9_MAX_FIDS; i++)
        rec_fid(w, (struct rec_fid){.id = i, .kind = 1, .path = ""});
    char err[200];
    CHECK(&c, load_bytes(s, w, w->len, err, sizeof(err)) == 0, "%u fids: %s", P9_MAX_FIDS, err);
    CHECK_EQ(&c, p9_server_nfids(s), P9_MAX_FIDS);
    put_count(w, P9_MAX_FIDS + 1);
    rec_fid(w, (struct rec_fid){.id = P9_MAX_FIDS, .kind = 1, .path = ""});
    refused(s, w, "at most", "one fid too many");
}

/* Paths within FSDIR_PATH_MAX but together beyond the session's budget. */
static void test_snap_budget(struct p9_server *s, struct snap_w *w)
{
    static char p[FSDIR_PATH_MAX];
    memset(p, 'd', sizeof(p) - 1);
    for (unsigned i = 250; i < sizeof(p) - 1; i += 251)
        p[i] = '/';
    p[sizeof(p) - 1] = 0;
    uint32_t n = P9_MAX_PATH_BYTES / FSDIR_PATH_MAX + 2;
    rec_head(w, P9_SNAP_FORMAT, 1, SNAP_MSIZE, n);
    for (uint32_t i = 0; i < n; i++)
        rec_fid(w, (struct rec_fid){.id = i, .kind = 1, .path = p});
    refused(s, w, "MiB", "paths beyond the budget");
}

static void test_snap_hostile(void)
{
    struct p9_server *s = new_server(0), *ro = new_server(1);
    struct snap_w w;
    snap_w_init(&w);
    test_snap_bad_session(s, &w);
    test_snap_bad_fids(s, &w);
    test_snap_bad_paths(s, &w);
    test_snap_budget(s, &w);
    struct rec_fid f = {.id = 1, .kind = 1, .path = "hello.txt", .opened = 1, .flags = 1, .ino = 1};
    rec_one(&w, f);
    refused(ro, &w, "read-only", "open for writing on a read-only share");
    /* A file identity that is not the file's: the fid loads, its first
     * use is ESTALE, never another file's data. */
    f.flags = 0;
    rec_one(&w, f);
    char err[200];
    CHECK(&c, load_bytes(ro, &w, w.len, err, sizeof(err)) == 0, "load on ro: %s", err);
    CHECK_EQ(&c, t_read(ro, 1, 0, 100), -ESTALE);
    /* Refused records leave a server that serves a new session. */
    CHECK_EQ(&c, t_version(s, SNAP_MSIZE, "9P2000.L"), 0);
    CHECK_EQ(&c, t_attach(s, 1), 0);
    CHECK_EQ(&c, walk1(s, 1, 2, "hello.txt"), 1);
    CHECK_EQ(&c, t_lopen(s, 2, 0), 0);
    CHECK_EQ(&c, t_read(s, 2, 0, 100), 9);
    snap_w_free(&w);
    p9_server_free(s);
    p9_server_free(ro);
    check_outside_untouched("snapshots");
}

int main(void)
{
    setup_dirs();
    char err[256];
    char p[400];
    snprintf(p, sizeof(p), "%s/missing", top);
    CHECK(&c, !p9_server_new(p, 0, err, sizeof(err)), "missing dir refused");
    snprintf(p, sizeof(p), "%s/hello.txt", share);
    CHECK(&c, !p9_server_new(p, 0, err, sizeof(err)) && strstr(err, "not a directory"),
          "file refused: %s", err);

    test_fsdir(0);
    test_fsdir(1);
    struct p9_server *s = new_server(0);
    test_version(s);
    test_attach_walk(s);
    test_files(s);
    test_malformed(s);
    test_limits(s);
    p9_server_free(s);
    test_readonly();
    test_random();
    test_snap_roundtrip();
    test_snap_hostile();
    rm_rf(top);
    return check_report(&c, "test_9p");
}
