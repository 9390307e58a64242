/* Touched pages of an anonymous mapping (pagemap.h). */
#include "mem/pagemap.h"
#include <fcntl.h>
#include <unistd.h>

#define PAGE       4096u
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define CHUNK      512u /* entries per read */

int mem_touched_pages(const uint8_t *p, uint64_t size, uint8_t *map)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    uint64_t npages = size / PAGE, first = (uintptr_t)p / PAGE;
    uint64_t e[CHUNK];
    for (uint64_t i = 0; i < npages; i += CHUNK) {
        uint64_t n = npages - i < CHUNK ? npages - i : CHUNK;
        ssize_t want = (ssize_t)(n * sizeof(e[0]));
        if (pread(fd, e, (size_t)want, (off_t)((first + i) * sizeof(e[0]))) != want) {
            close(fd);
            return -1;
        }
        for (uint64_t k = 0; k < n; k++)
            map[i + k] = (e[k] & (PM_PRESENT | PM_SWAPPED)) != 0;
    }
    close(fd);
    return 0;
}
