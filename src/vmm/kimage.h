#ifndef VMON_KIMAGE_H
#define VMON_KIMAGE_H
#include <stddef.h>
#include <stdint.h>
/* Takes the file's bytes f (n bytes, malloc'd): returns them as they are, or
 * decompressed (gzip, xz, zstd; EFI zboot unwrapped) into a new buffer of at
 * most max bytes, updating *n. f is consumed either way; NULL with err set
 * on a truncated, corrupt, oversized or unsupported file. */
uint8_t *kimage_unpack(uint8_t *f, size_t *n, size_t max, const char *path, char *err,
                       size_t errlen);
/* What a file that is not a kernel looks like ("a qcow2 disk image", ...),
 * or NULL if it could be a raw binary. */
const char *kimage_describe(const uint8_t *f, size_t n);
#endif
