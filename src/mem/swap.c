/* Hypervisor swap (swap.h). */
#include "mem/swap.h"
#include "mem/guest.h"
#include "vmm/vm.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PAGE        4096u
#define TICK_US     20000 /* the reclaimer looks this often */
#define RESYNC_TICK 50    /* and counts resident pages from the kernel this often */
#define ZERO_WINDOW 8192u /* pages looked at for zeros per reclaim */

/* Page states. */
enum { PG_ABSENT, PG_RESIDENT, PG_EVICTING, PG_SWAPPED };

struct mem_swap {
    struct vm *vm;
    int uffd, file_fd, stop_fd;
    uint64_t npages, max_limit; /* pages: the VM's, and the most --mem-limit allows */
    _Atomic uint64_t limit;     /* pages resident at most now (mem_swap_set_limit) */
    uint8_t *state;             /* PG_*, under lock */
    _Atomic uint64_t *accessed; /* one bit per page, set by TLB fills */
    _Atomic uint64_t resident, out, in, zero_in;
    uint64_t hand, zhand; /* the clock, the zero-page scan */
    _Atomic uint64_t zero_out;
    uint8_t *scratch; /* where a page being written out is moved to */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a page left PG_EVICTING */
    pthread_cond_t wake; /* the reclaimer: over the limit (with lock) */
    pthread_t fault_thread, reclaim_thread;
    _Atomic int stop;
};

void mem_access_note(struct vm *vm, uint64_t pa)
{
    struct mem_swap *s = vm->swap;
    uint64_t p = (pa - vm->ram_base) / PAGE;
    if (p < s->npages)
        atomic_fetch_or_explicit(&s->accessed[p / 64], 1ull << (p % 64), memory_order_relaxed);
}

/* ---- faults ---- */

static int fill_page(struct mem_swap *s, uint64_t p, int st, uint8_t *buf)
{
    uintptr_t addr = (uintptr_t)(s->vm->ram + p * PAGE);
    int r;
    if (st == PG_SWAPPED && pread(s->file_fd, buf, PAGE, (off_t)(p * PAGE)) == PAGE) {
        struct uffdio_copy c = {.dst = addr, .src = (uintptr_t)buf, .len = PAGE};
        r = ioctl(s->uffd, UFFDIO_COPY, &c);
        atomic_fetch_add(&s->in, 1);
    } else {
        struct uffdio_zeropage z = {.range = {.start = addr, .len = PAGE}};
        r = ioctl(s->uffd, UFFDIO_ZEROPAGE, &z);
        atomic_fetch_add(&s->zero_in, 1);
    }
    if (r < 0 && errno == EEXIST) { /* filled already (two faults on one page) */
        struct uffdio_range w = {.start = addr, .len = PAGE};
        ioctl(s->uffd, UFFDIO_WAKE, &w);
        return 0;
    }
    return r;
}

static void serve_fault(struct mem_swap *s, uint64_t addr, uint8_t *buf)
{
    uint64_t p = (addr - (uintptr_t)s->vm->ram) / PAGE;
    if (p >= s->npages) return;
    pthread_mutex_lock(&s->lock);
    while (s->state[p] == PG_EVICTING)
        pthread_cond_wait(&s->cond, &s->lock);
    int st = s->state[p];
    if (fill_page(s, p, st, buf) < 0) {
        vm_log(s->vm, VM_LOG_ERROR, "swap", "page 0x%llx: %s",
               (unsigned long long)(s->vm->ram_base + p * PAGE), strerror(errno));
    } else if (st != PG_RESIDENT) {
        s->state[p] = PG_RESIDENT;
        if (atomic_fetch_add(&s->resident, 1) + 1 > s->limit) pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
}

static void *fault_main(void *arg)
{
    struct mem_swap *s = arg;
    uint8_t *buf = aligned_alloc(PAGE, PAGE);
    struct pollfd pf[2] = {{.fd = s->uffd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
    while (buf && !atomic_load(&s->stop)) {
        if (poll(pf, 2, -1) < 0 && errno != EINTR) break;
        struct uffd_msg msg;
        ssize_t n = read(s->uffd, &msg, sizeof(msg));
        if (n == (ssize_t)sizeof(msg) && msg.event == UFFD_EVENT_PAGEFAULT)
            serve_fault(s, msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1), buf);
    }
    free(buf);
    return NULL;
}

/* ---- reclaim ---- */

static int page_zero(const uint8_t *p)
{
    uint64_t acc = 0;
    for (unsigned i = 0; i < PAGE; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    return acc == 0;
}

/* Take page p out of guest RAM and keep its contents in the file. */
static void evict(struct mem_swap *s, uint64_t p)
{
    if (mem_page_pinned(s->vm, p)) return; /* a device is using it now */
    pthread_mutex_lock(&s->lock);
    if (s->state[p] != PG_RESIDENT) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    s->state[p] = PG_EVICTING;
    pthread_mutex_unlock(&s->lock);
    void *m = mremap(s->vm->ram + p * PAGE, PAGE, PAGE,
                     MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, s->scratch);
    int st = PG_RESIDENT;
    if (m != MAP_FAILED) {
        if (page_zero(s->scratch))
            st = PG_ABSENT;
        else if (pwrite(s->file_fd, s->scratch, PAGE, (off_t)(p * PAGE)) == PAGE)
            st = PG_SWAPPED;
        else
            vm_log(s->vm, VM_LOG_ERROR, "swap", "writing the swap file: %s", strerror(errno));
        if (st == PG_RESIDENT) { /* could not save it: put it back */
            mremap(s->scratch, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, s->vm->ram + p * PAGE);
            s->scratch =
                mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        }
    }
    pthread_mutex_lock(&s->lock);
    s->state[p] = (uint8_t)st;
    if (st != PG_RESIDENT) {
        atomic_fetch_sub(&s->resident, 1);
        atomic_fetch_add(st == PG_SWAPPED ? &s->out : &s->zero_out, 1);
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void flush_all_tlbs(struct vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->harts[i]) vm_remote_fence(NULL, vm->harts[i], HART_EV_TLB);
}

/* Clock: a page a hart mapped since the hand last passed gets another
 * turn; one that none did goes out. */
/* A resident page that reads as zeros now (vCPUs may be writing it: the
 * eviction looks again, atomically). */
static int looks_zero(const uint8_t *p)
{
    for (unsigned i = 0; i < PAGE; i += 8)
        if (__atomic_load_n((const uint64_t *)(const void *)(p + i), __ATOMIC_RELAXED)) return 0;
    return 1;
}

/* Zero pages first: they cost nothing to drop (no file write) and come
 * back as the kernel's zero page. One window of ZERO_WINDOW pages a call. */
static void reclaim_zero(struct mem_swap *s, uint64_t target)
{
    for (uint64_t k = 0; k < ZERO_WINDOW && atomic_load(&s->resident) > target; k++) {
        uint64_t p = s->zhand++ % s->npages;
        if (s->state[p] == PG_RESIDENT && looks_zero(s->vm->ram + p * PAGE)) evict(s, p);
    }
}

static void reclaim(struct mem_swap *s)
{
    uint64_t limit = atomic_load(&s->limit), target = limit - limit / 16;
    reclaim_zero(s, target);
    for (uint64_t steps = 0; steps < 2 * s->npages && atomic_load(&s->resident) > target; steps++) {
        uint64_t p = s->hand++ % s->npages;
        if (p == 0) flush_all_tlbs(s->vm); /* a new turn: fills mark pages again */
        uint64_t bit = 1ull << (p % 64);
        if (atomic_fetch_and(&s->accessed[p / 64], ~bit) & bit) continue;
        evict(s, p);
    }
}

/* The kernel's count of guest pages present (the balloon and discards drop
 * pages behind the fault thread's back). */
static void resync(struct mem_swap *s)
{
    uint64_t n = 0;
    uint8_t vec[512];
    for (uint64_t p = 0; p < s->npages; p += sizeof(vec)) {
        uint64_t k = s->npages - p < sizeof(vec) ? s->npages - p : sizeof(vec);
        if (mincore(s->vm->ram + p * PAGE, k * PAGE, vec) < 0) return;
        for (uint64_t i = 0; i < k; i++)
            n += vec[i] & 1;
    }
    atomic_store(&s->resident, n);
}

/* Wakes every tick, or at once when a fault takes the VM over its limit. */
static void *reclaim_main(void *arg)
{
    struct mem_swap *s = arg;
    for (unsigned tick = 0; !atomic_load(&s->stop); tick++) {
        pthread_mutex_lock(&s->lock);
        if (atomic_load(&s->resident) <= s->limit && !atomic_load(&s->stop)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += TICK_US * 1000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        }
        pthread_mutex_unlock(&s->lock);
        if (tick % RESYNC_TICK == 0) resync(s);
        if (atomic_load(&s->resident) > s->limit) reclaim(s);
    }
    return NULL;
}

/* ---- setup ---- */

static int open_uffd(struct mem_swap *s, char *err, size_t errlen)
{
    s->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = {.api = UFFD_API};
    struct uffdio_register reg = {.range = {.start = (uintptr_t)s->vm->ram, .len = s->vm->ram_size},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (s->uffd < 0 || ioctl(s->uffd, UFFDIO_API, &api) < 0 ||
        ioctl(s->uffd, UFFDIO_REGISTER, &reg) < 0) {
        snprintf(err, errlen, "--mem-limit needs userfaultfd: %s%s", strerror(errno),
                 errno == EPERM ? " (vm.unprivileged_userfaultfd is 0 and vmon is not privileged)"
                                : "");
        return -1;
    }
    return 0;
}

static int open_file(struct mem_swap *s, const char *dir, char *err, size_t errlen)
{
    s->file_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (s->file_fd < 0) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/vmon-swap-XXXXXX", dir);
        s->file_fd = mkostemp(path, O_CLOEXEC);
        if (s->file_fd >= 0) unlink(path);
    }
    if (s->file_fd < 0) {
        snprintf(err, errlen, "swap file in %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void swap_free(struct mem_swap *s)
{
    if (s->uffd >= 0) close(s->uffd);
    if (s->file_fd >= 0) close(s->file_fd);
    if (s->stop_fd >= 0) close(s->stop_fd);
    if (s->scratch && s->scratch != MAP_FAILED) munmap(s->scratch, PAGE);
    free(s->state);
    free((void *)s->accessed);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->wake);
    free(s);
}

int mem_swap_start(struct vm *vm, uint64_t limit, const char *dir, char *err, size_t errlen)
{
    if (vm->ram_file) {
        snprintf(err, errlen, "--mem-limit needs anonymous RAM, not RAM restored from a file");
        return -1;
    }
    if (limit < (16u << 20) || limit >= vm->ram_size) {
        snprintf(err, errlen,
                 "--mem-limit %llu MiB: want 16 MiB up to less than the guest's %llu MiB",
                 (unsigned long long)(limit >> 20), (unsigned long long)(vm->ram_size >> 20));
        return -1;
    }
    struct mem_swap *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->vm = vm;
    s->uffd = s->file_fd = s->stop_fd = -1;
    s->npages = vm->ram_size / PAGE;
    s->limit = s->max_limit = limit / PAGE;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->state = calloc(s->npages, 1);
    s->accessed = calloc((s->npages + 63) / 64, sizeof(*s->accessed));
    s->scratch = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (!s->state || !s->accessed || s->scratch == MAP_FAILED || s->stop_fd < 0) {
        snprintf(err, errlen, "out of memory");
    } else if (open_uffd(s, err, errlen) == 0 && open_file(s, dir, err, errlen) == 0) {
        if (pthread_create(&s->fault_thread, NULL, fault_main, s) == 0) {
            if (pthread_create(&s->reclaim_thread, NULL, reclaim_main, s) == 0) {
                vm->swap = s;
                return 0;
            }
            atomic_store(&s->stop, 1);
            uint64_t one = 1;
            if (write(s->stop_fd, &one, sizeof(one)) < 0) { /* the thread polls it */
            }
            pthread_join(s->fault_thread, NULL);
        }
        snprintf(err, errlen, "cannot create the swap threads");
    }
    swap_free(s);
    return -1;
}

void mem_swap_stop(struct vm *vm)
{
    struct mem_swap *s = vm->swap;
    if (!s) return;
    atomic_store(&s->stop, 1);
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof(one)) < 0) { /* cannot fail: a fresh eventfd */
    }
    pthread_mutex_lock(&s->lock);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->reclaim_thread, NULL);
    pthread_join(s->fault_thread, NULL);
    /* Guest RAM stays registered until it is unmapped: nothing may touch
     * it now (vm_destroy is next). */
    vm->swap = NULL;
    swap_free(s);
}

int mem_swap_page_out(struct vm *vm, uint64_t page)
{
    struct mem_swap *s = vm->swap;
    if (!s || page >= s->npages) return 0;
    pthread_mutex_lock(&s->lock);
    int out = s->state[page] == PG_SWAPPED;
    pthread_mutex_unlock(&s->lock);
    return out;
}

int mem_swap_set_limit(struct vm *vm, uint64_t limit, char *err, size_t errlen)
{
    struct mem_swap *s = vm->swap;
    if (!s) {
        snprintf(err, errlen, "the VM has no memory limit (--mem-limit)");
        return -1;
    }
    if (limit < (16u << 20) || limit / PAGE > s->max_limit) {
        snprintf(err, errlen, "mem-limit %llu MiB: want 16 MiB up to its --mem-limit, %llu MiB",
                 (unsigned long long)(limit >> 20),
                 (unsigned long long)(s->max_limit * PAGE >> 20));
        return -1;
    }
    atomic_store(&s->limit, limit / PAGE);
    pthread_mutex_lock(&s->lock);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void mem_swap_get_stats(struct vm *vm, struct mem_swap_stats *st)
{
    struct mem_swap *s = vm->swap;
    memset(st, 0, sizeof(*st));
    if (!s) return;
    st->limit_pages = atomic_load(&s->limit);
    st->max_limit_pages = s->max_limit;
    st->resident_pages = atomic_load(&s->resident);
    st->out = atomic_load(&s->out);
    st->in = atomic_load(&s->in);
    st->zero_in = atomic_load(&s->zero_in);
    st->zero_out = atomic_load(&s->zero_out);
}
