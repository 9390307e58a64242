/* Device option strings of the form "PATH[,opt...]" (--disk, --share): the
 * leading path may hold a comma written as ",,"; options are separated by
 * single commas. */
#ifndef VMON_OPTS_H
#define VMON_OPTS_H
#include <stddef.h>

/* Copy the leading path of *p into out (size bytes, NUL included) and leave
 * *p at the first separator or the end. Returns its length, or -1 when it
 * does not fit. */
long opt_leading_path(const char **p, char *out, size_t size);

/* Take the next option after a separator: 1 with it NUL-terminated in buf,
 * 0 at the end of the string, -1 when it does not fit in size bytes. */
int opt_next(const char **p, char *buf, size_t size);

/* Is s 1 to max characters of printable ASCII without spaces? */
int opt_printable(const char *s, size_t max);

/* The directory a path names a file in ("." for a bare name, "/" for
 * "/f"), cut to size bytes. */
void opt_path_dir(const char *path, char *dir, size_t size);
#endif
