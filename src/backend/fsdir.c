/* Confined host directory: see fsdir.h for the rules. */
#include "backend/fsdir.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

static int sys_openat2(int dirfd, const char *path, int flags)
{
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(unsigned)flags;
    how.resolve = RESOLVE_FLAGS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
#else
    errno = ENOSYS;
    return -1;
#endif
}

int fsdir_open(struct fsdir *fs, const char *dir, int readonly, char *err, size_t errlen)
{
    memset(fs, 0, sizeof(*fs));
    fs->root = -1;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", dir,
                 errno == ENOTDIR ? "not a directory" : strerror(errno));
        return -1;
    }
    fs->root = fd;
    fs->readonly = readonly;
    /* openat2 may be missing (kernel < 5.6) or filtered (seccomp): probe. */
    int t = sys_openat2(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (t >= 0) {
        fs->use_openat2 = 1;
        close(t);
    }
    return 0;
}

void fsdir_close(struct fsdir *fs)
{
    if (fs->root >= 0) close(fs->root);
    fs->root = -1;
}

int fsdir_check_name(const char *name, size_t len, int allow_dots)
{
    if (len == 0) return -EINVAL;
    if (len > FSDIR_NAME_MAX) return -ENAMETOOLONG;
    if (memchr(name, '/', len) || memchr(name, 0, len)) return -EINVAL;
    if (!allow_dots && ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2))))
        return -EINVAL;
    return 0;
}

int fsdir_join(char *out, size_t outsize, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    if (!strcmp(name, ".")) {
        if (dl >= outsize) return -ENAMETOOLONG;
        memmove(out, dir, dl + 1);
        return 0;
    }
    if (!strcmp(name, "..")) {
        const char *slash = strrchr(dir, '/');
        size_t keep = slash ? (size_t)(slash - dir) : 0; /* root stays root */
        if (keep >= outsize) return -ENAMETOOLONG;
        memmove(out, dir, keep);
        out[keep] = 0;
        return 0;
    }
    size_t nl = strlen(name);
    size_t need = dl + (dl ? 1 : 0) + nl + 1;
    if (need > outsize || need > FSDIR_PATH_MAX) return -ENAMETOOLONG;
    memmove(out, dir, dl);
    size_t o = dl;
    if (dl) out[o++] = '/';
    memcpy(out + o, name, nl + 1);
    return 0;
}

int fsdir_is_below(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 0) return 1;
    return !strncmp(path, prefix, n) && (path[n] == 0 || path[n] == '/');
}

/* Component-by-component walk from the root (no openat2). */
static int walk_fallback(const struct fsdir *fs, const char *rel, int flags)
{
    int dir = fs->root;
    const char *s = rel;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        char comp[FSDIR_NAME_MAX + 1];
        int e = fsdir_check_name(s, len, 0);
        if (e < 0) {
            if (dir != fs->root) close(dir);
            return e;
        }
        memcpy(comp, s, len);
        comp[len] = 0;
        int fd;
        if (slash)
            fd = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        else
            fd = openat(dir, comp, flags);
        e = errno;
        if (dir != fs->root) close(dir);
        if (fd < 0) return -e;
        if (!slash) return fd;
        dir = fd;
        s = slash + 1;
    }
}

int fsdir_resolve(const struct fsdir *fs, const char *rel, int flags)
{
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) return -EINVAL;
    flags |= O_NOFOLLOW | O_CLOEXEC;
    if (!*rel) {
        int fd = openat(fs->root, ".", flags);
        return fd < 0 ? -errno : fd;
    }
    if (rel[0] == '/') return -EINVAL;
    if (fs->use_openat2) {
        /* EAGAIN: a rename raced with the lookup; retry a few times. */
        for (int tries = 0; tries < 8; tries++) {
            int fd = sys_openat2(fs->root, rel, flags);
            if (fd >= 0) return fd;
            if (errno != EAGAIN && errno != EINTR) return -errno;
        }
        return -EAGAIN;
    }
    return walk_fallback(fs, rel, flags);
}

int fsdir_parent(const struct fsdir *fs, const char *rel, const char **name)
{
    const char *slash = strrchr(rel, '/');
    if (!*rel) {
        *name = ".";
        int fd = fcntl(fs->root, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
    }
    *name = slash ? slash + 1 : rel;
    if (!slash) {
        int fd = fcntl(fs->root, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
    }
    size_t dl = (size_t)(slash - rel);
    char dir[FSDIR_PATH_MAX];
    if (dl >= sizeof(dir)) return -ENAMETOOLONG;
    memcpy(dir, rel, dl);
    dir[dl] = 0;
    return fsdir_resolve(fs, dir, O_PATH | O_DIRECTORY);
}
