/* A host directory shared with a guest, with every path confined to it.
 *
 * Paths handed to these functions are relative to the share root ("" is
 * the root itself), made of components that are neither empty, ".", ".."
 * nor contain '/' (fsdir_join builds them that way). Resolution never
 * follows a symbolic link, in any component: symlinks may exist in the
 * share and be read (readlink), but nothing is ever opened through one, so
 * neither a relative link pointing upwards nor an absolute one resolves on
 * the host. Where the kernel has openat2() the walk is done by it with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (so even a concurrent rename on
 * the host cannot lead it out); otherwise one openat(O_NOFOLLOW) per
 * component from the root's descriptor. */
#ifndef VMON_FSDIR_H
#define VMON_FSDIR_H
#include <stddef.h>
#include <sys/types.h>

#define FSDIR_PATH_MAX 4096 /* bytes of a relative path, NUL included */
#define FSDIR_NAME_MAX 255

struct fsdir {
    int root;        /* O_PATH descriptor of the share's root directory */
    int readonly;    /* refuse every modification with EROFS */
    int use_openat2; /* the kernel has openat2 (probed at open) */
};

/* Open the directory dir as a share; -1 with a message in err. */
int fsdir_open(struct fsdir *fs, const char *dir, int readonly, char *err, size_t errlen);
void fsdir_close(struct fsdir *fs);

/* Open rel below the root with open(2) flags (O_NOFOLLOW and O_CLOEXEC are
 * always added; O_CREAT is refused). Returns a descriptor or -errno. */
int fsdir_resolve(const struct fsdir *fs, const char *rel, int flags);

/* O_PATH descriptor of the directory holding rel, and in *name the last
 * component of rel; for the root itself the root's descriptor (a dup) and
 * ".". Returns the descriptor or -errno. */
int fsdir_parent(const struct fsdir *fs, const char *rel, const char **name);

/* Is name (len bytes, not NUL-terminated) a valid single component?
 * allow_dots: "." and ".." are accepted (walks). 0 or -errno. */
int fsdir_check_name(const char *name, size_t len, int allow_dots);

/* out = dir/name, with "." meaning dir and ".." dir's parent (the root's
 * parent is the root). name must have passed fsdir_check_name. 0 or
 * -ENAMETOOLONG. */
int fsdir_join(char *out, size_t outsize, const char *dir, const char *name);

/* Is path equal to prefix or below it (prefix followed by '/')? "" is the
 * prefix of everything. */
int fsdir_is_below(const char *path, const char *prefix);
#endif
