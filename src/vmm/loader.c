/* Program loading: ELF64 (RISC-V, little endian) by PT_LOAD program headers,
 * or flat binaries. Every header field is checked against the file and RAM. */
#include "mem/guest.h"
#include "vmm/loader.h"
#include "mem/bytes.h"
#include "vmm/vm.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EM_RISCV 243
#define PT_LOAD  1

uint8_t *loader_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        fclose(fp);
        return NULL;
    }
    if ((uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%s: file too large (%lld bytes, limit %zu)", path,
                 (long long)st.st_size, max);
        fclose(fp);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf || fread(buf, 1, n, fp) != n) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    *len = n;
    return buf;
}

int loader_put(struct vm *vm, uint64_t addr, const void *data, size_t len)
{
    if (addr < vm->ram_base || addr - vm->ram_base > vm->ram_size ||
        len > vm->ram_size - (addr - vm->ram_base))
        return -1;
    return mem_write_bytes(vm, addr, data, len);
}

static int ram_range_ok(const struct vm *vm, uint64_t addr, uint64_t len)
{
    return addr >= vm->ram_base && addr - vm->ram_base <= vm->ram_size &&
           len <= vm->ram_size - (addr - vm->ram_base);
}

int loader_load_elf(struct vm *vm, const char *path, const uint8_t *f, size_t n, uint64_t *entry,
                    uint64_t *end, char *err, size_t errlen)
{
    if (n < 64) {
        snprintf(err, errlen, "%s: truncated ELF header", path);
        return -1;
    }
    if (f[4] != 2) {
        snprintf(err, errlen, "%s: not a 64-bit ELF", path);
        return -1;
    }
    if (f[5] != 1) {
        snprintf(err, errlen, "%s: not a little-endian ELF", path);
        return -1;
    }
    if (get_le16(f + 18) != EM_RISCV) {
        snprintf(err, errlen, "%s: ELF machine %u is not RISC-V", path, get_le16(f + 18));
        return -1;
    }
    uint16_t type = get_le16(f + 16);
    if (type != 2 && type != 3) {
        snprintf(err, errlen, "%s: ELF type %u is not executable", path, type);
        return -1;
    }
    uint64_t phoff = get_le64(f + 32);
    uint16_t phentsize = get_le16(f + 54), phnum = get_le16(f + 56);
    if (phentsize < 56 || phnum == 0 || phoff > n || (uint64_t)phnum * phentsize > n - phoff) {
        snprintf(err, errlen, "%s: bad or truncated program header table", path);
        return -1;
    }
    int loaded = 0;
    uint64_t hi = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = f + phoff + (uint64_t)i * phentsize;
        if (get_le32(ph) != PT_LOAD) continue;
        uint64_t off = get_le64(ph + 8), paddr = get_le64(ph + 24), filesz = get_le64(ph + 32),
                 memsz = get_le64(ph + 40);
        if (memsz == 0) continue;
        if (filesz > memsz || off > n || filesz > n - off) {
            snprintf(err, errlen, "%s: segment %u extends past the end of the file", path, i);
            return -1;
        }
        if (!ram_range_ok(vm, paddr, memsz)) {
            snprintf(err, errlen,
                     "%s: segment %u [0x%llx, +0x%llx) is outside guest RAM [0x%llx, +0x%llx)",
                     path, i, (unsigned long long)paddr, (unsigned long long)memsz,
                     (unsigned long long)vm->ram_base, (unsigned long long)vm->ram_size);
            return -1;
        }
        uint8_t *dst = mem_pin(vm, paddr, memsz, MEM_WRITE);
        if (!dst) {
            snprintf(err, errlen, "%s: segment %u is not all guest RAM", path, i);
            return -1;
        }
        memcpy(dst, f + off, filesz);
        memset(dst + filesz, 0, memsz - filesz);
        mem_unpin(vm, paddr, memsz, MEM_WRITE);
        if (paddr + memsz > hi) hi = paddr + memsz;
        loaded++;
    }
    if (!loaded) {
        snprintf(err, errlen, "%s: ELF has no loadable segments", path);
        return -1;
    }
    *entry = get_le64(f + 24);
    if (!ram_range_ok(vm, *entry, 2)) {
        snprintf(err, errlen, "%s: entry point 0x%llx is outside guest RAM", path,
                 (unsigned long long)*entry);
        return -1;
    }
    *end = hi;
    return 0;
}

int loader_load_program(struct vm *vm, const char *path, uint64_t load_addr, uint64_t *entry,
                        uint64_t *end, char *err, size_t errlen)
{
    size_t n;
    uint8_t *f = loader_read_file(path, vm->ram_size, &n, err, errlen);
    if (!f) return -1;
    int r;
    if (n >= 4 && !memcmp(f, "\177ELF", 4)) {
        r = loader_load_elf(vm, path, f, n, entry, end, err, errlen);
    } else if (n == 0) {
        snprintf(err, errlen, "%s: empty file", path);
        r = -1;
    } else if (!ram_range_ok(vm, load_addr, n)) {
        snprintf(err, errlen, "%s: %zu bytes do not fit in guest RAM at 0x%llx", path, n,
                 (unsigned long long)load_addr);
        r = -1;
    } else {
        mem_write_bytes(vm, load_addr, f, n); /* in RAM: checked above */
        *entry = load_addr;
        *end = load_addr + n;
        r = 0;
    }
    free(f);
    return r;
}
