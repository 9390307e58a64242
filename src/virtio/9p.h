/* 9P2000.L file server over a confined host directory (backend/fsdir.h),
 * independent of the transport: the virtio-9p device (9p.c) feeds it one
 * request message at a time and hands it the request's reply buffers.
 * Exposed for the unit tests, which drive it with raw messages. */
#ifndef VMON_VIRTIO_9P_H
#define VMON_VIRTIO_9P_H
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define P9_MAX_MSIZE      (512u << 10) /* largest msize we negotiate */
#define P9_MIN_MSIZE      4096u        /* smallest msize we accept */
#define P9_MAX_FIDS       (1u << 18)   /* fids one session may hold */
#define P9_MAX_OPEN       1024u        /* host descriptors held by open fids at once */
#define P9_MAX_PATH_BYTES (64u << 20)  /* memory for the fids' paths */
#define P9_HDR            7u           /* size[4] type[1] tag[2] */

/* Message types (9P2000.L; T = request, R = T + 1). */
enum {
    P9_TLERROR = 6,
    P9_RLERROR = 7,
    P9_TSTATFS = 8,
    P9_TLOPEN = 12,
    P9_TLCREATE = 14,
    P9_TSYMLINK = 16,
    P9_TMKNOD = 18,
    P9_TRENAME = 20,
    P9_TREADLINK = 22,
    P9_TGETATTR = 24,
    P9_TSETATTR = 26,
    P9_TXATTRWALK = 30,
    P9_TXATTRCREATE = 32,
    P9_TREADDIR = 40,
    P9_TFSYNC = 50,
    P9_TLOCK = 52,
    P9_TGETLOCK = 54,
    P9_TLINK = 70,
    P9_TMKDIR = 72,
    P9_TRENAMEAT = 74,
    P9_TUNLINKAT = 76,
    P9_TVERSION = 100,
    P9_TAUTH = 102,
    P9_TATTACH = 104,
    P9_TFLUSH = 108,
    P9_TWALK = 110,
    P9_TREAD = 116,
    P9_TWRITE = 118,
    P9_TCLUNK = 120,
    P9_TREMOVE = 122,
};

#define P9_NOFID 0xffffffffu
#define P9_NOTAG 0xffffu

struct p9_server;
struct snap_w;
struct snap_r;

/* Serve the directory dir (read-only if ro). NULL with a message in err. */
struct p9_server *p9_server_new(const char *dir, int ro, char *err, size_t errlen);
void p9_server_free(struct p9_server *s);
/* Forget the session: every fid is clunked, a new Tversion is needed. */
void p9_server_reset(struct p9_server *s);
/* Serve one request (msg, len bytes as received). The reply is written
 * into the buffers iov[0..niov) in order. Returns the reply's length, or 0
 * when no reply can be formed (fewer than 7 request bytes, or the reply
 * buffers cannot hold even an Rlerror). Thread-safe (one lock). */
size_t p9_server_handle(struct p9_server *s, const uint8_t *msg, size_t len,
                        const struct iovec *iov, unsigned niov);
/* Snapshots: the session (negotiated msize and version) and every fid,
 * written as P9_SNAP_FORMAT (u32), versioned (u32, 0 or 1), msize (u32),
 * the number of fids (u32), then per fid: id (u32), kind (u32, 1 path or
 * 2 extended attribute), its path below the share root (snap_str: "" for
 * the root, components joined by '/'), opened (u32), the 9P2000.L open
 * flags it was opened with (u32: access mode, APPEND, DSYNC, SYNC,
 * DIRECTORY), is_dir (u32), and the open file's dev and ino (u64 each);
 * the last four are 0 for a fid that is not open. No host descriptor is
 * saved: a loaded open fid reopens its file by path on first use, and gets
 * ESTALE if that is no longer the same file (dev and ino). Loading checks
 * every value and refuses (snap_fail) paths that are absolute or hold
 * "." or "..", an empty component or a NUL, duplicate or NOFID ids, more
 * fids than a session may hold or paths beyond its memory budget, flags
 * an open fid cannot have, and files open for writing on a read-only
 * share; a refused record leaves the session empty. Thread-safe. */
#define P9_SNAP_FORMAT 1u
void p9_server_save(struct p9_server *s, struct snap_w *w);
int p9_server_load(struct p9_server *s, struct snap_r *r);
/* Number of fids in use (tests). */
unsigned p9_server_nfids(struct p9_server *s);
/* Number of host descriptors the fids hold (tests). */
unsigned p9_server_nopen(struct p9_server *s);
#endif
