#ifndef VMON_LOADER_H
#define VMON_LOADER_H
#include <stddef.h>
#include <stdint.h>
struct vm;

/* Read a whole file (at most max bytes). Returns NULL with err set. */
uint8_t *loader_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);
/* Load an ELF (by program headers) or, failing the ELF magic, a flat binary
 * at load_addr. Sets *entry and the highest loaded address in *end. */
int loader_load_program(struct vm *vm, const char *path, uint64_t load_addr, uint64_t *entry,
                        uint64_t *end, char *err, size_t errlen);
/* Load an ELF already in memory (f, n bytes) by its program headers. */
int loader_load_elf(struct vm *vm, const char *path, const uint8_t *f, size_t n, uint64_t *entry,
                    uint64_t *end, char *err, size_t errlen);
/* Copy bytes into guest RAM; fails if the range is not inside RAM. */
int loader_put(struct vm *vm, uint64_t addr, const void *data, size_t len);
#endif
