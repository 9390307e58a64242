/* Device option strings: see opts.h. */
#include "vmm/opts.h"
#include <stdio.h>
#include <string.h>

long opt_leading_path(const char **p, char *out, size_t size)
{
    const char *s = *p;
    size_t n = 0;
    while (*s) {
        if (*s == ',') {
            if (s[1] != ',') break;
            s++;
        }
        if (n + 1 >= size) return -1;
        out[n++] = *s++;
    }
    out[n] = 0;
    *p = s;
    return (long)n;
}

int opt_next(const char **p, char *buf, size_t size)
{
    if (**p != ',') return 0;
    const char *s = *p + 1;
    const char *end = strchr(s, ',');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    if (len >= size) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    *p = s + len;
    return 1;
}

int opt_printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e) return 0;
    return 1;
}

void opt_path_dir(const char *path, char *dir, size_t size)
{
    snprintf(dir, size, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
}
