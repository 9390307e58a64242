/* Host ends of a character device: see chardev.h. */
#include "backend/chardev.h"
#include "vmm/opts.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void chardev_init(struct chardev *c)
{
    memset(c, 0, sizeof(*c));
    c->out_fd = c->listen_fd = c->lock_fd = c->dir_fd = -1;
}

int chardev_open_file(struct chardev *c, const char *path, char *err, size_t errlen)
{
    chardev_init(c);
    /* O_NONBLOCK: a FIFO without a reader fails at once instead of hanging. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open '%s' for writing: %s", path,
                 errno == ENXIO ? "a FIFO with no reader" : strerror(errno));
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    c->out_fd = fd;
    return 0;
}

/* PATH.lock, held with flock() while this vmon owns PATH: another vmon on
 * the same path is refused without touching its socket (a probing
 * connection would be taken as its client). The lock goes with the
 * process, so a crashed run leaves nothing that blocks the next one. */
static int take_lock(struct chardev *c, const char *path, char *err, size_t errlen)
{
    char lock[sizeof(c->sock_path) + 8];
    snprintf(lock, sizeof(lock), "%s.lock", path);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0) {
        snprintf(err, errlen, "cannot create socket '%s': %s (its lock file %s)", path,
                 strerror(errno), lock);
        return -1;
    }
    if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "socket '%s' is in use by another vmon", path);
        close(lfd);
        return -1;
    }
    c->lock_fd = lfd;
    return 0;
}

/* A socket file at sa's path: in use if another program accepts
 * connections on it, otherwise left over from an earlier run and removed. */
static int clear_stale(const struct sockaddr_un *sa, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(sa->sun_path, &st) < 0) return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "'%s' exists and is not a socket", sa->sun_path);
        return -1;
    }
    int t = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t >= 0) {
        int live = connect(t, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
        close(t);
        if (live) {
            snprintf(err, errlen, "socket '%s' is in use by another program", sa->sun_path);
            return -1;
        }
    }
    unlink(sa->sun_path);
    return 0;
}

static int listen_at(struct chardev *c, const struct sockaddr_un *sa, char *err, size_t errlen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
        snprintf(err, errlen, "cannot create socket '%s': %s", sa->sun_path, strerror(errno));
        close(fd);
        return -1;
    }
    c->listen_fd = fd; /* ours now: chardev_close removes it */
    if (listen(fd, 4) < 0) {
        snprintf(err, errlen, "listen on '%s': %s", sa->sun_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The socket's directory: its files are removed there at exit, by path,
 * which a confined VM may do only where it was told it would. */
static int open_dir(struct chardev *c, char *err, size_t errlen)
{
    char dir[sizeof(c->sock_path)];
    opt_path_dir(c->sock_path, dir, sizeof(dir));
    c->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->dir_fd < 0) {
        snprintf(err, errlen, "socket '%s': its directory %s: %s", c->sock_path, dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int chardev_open_socket(struct chardev *c, const char *path, char *err, size_t errlen)
{
    chardev_init(c);
    size_t len = strlen(path);
    if (!len || len >= sizeof(c->sock_path)) {
        snprintf(err, errlen, "bad socket path '%.120s'", path);
        return -1;
    }
    memcpy(c->sock_path, path, len + 1);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len + 1);
    if (take_lock(c, path, err, errlen) < 0 || clear_stale(&sa, err, errlen) < 0 ||
        listen_at(c, &sa, err, errlen) < 0 || open_dir(c, err, errlen) < 0) {
        chardev_close(c);
        return -1;
    }
    return 0;
}

void chardev_close(struct chardev *c)
{
    if (c->out_fd >= 0) close(c->out_fd);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        unlink(c->sock_path);
    }
    if (c->lock_fd >= 0) {
        char lock[sizeof(c->sock_path) + 8];
        snprintf(lock, sizeof(lock), "%s.lock", c->sock_path);
        unlink(lock);
        close(c->lock_fd);
    }
    if (c->dir_fd >= 0) close(c->dir_fd);
    c->out_fd = c->listen_fd = c->lock_fd = c->dir_fd = -1;
}
