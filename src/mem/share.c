/* In-hypervisor page sharing, the VM's side (share.h). */
#include "mem/share.h"
#include "mem/bus.h"
#include "mem/dirty.h"
#include "mem/guest.h"
#include "mem/racy.h"
#include "mem/sharepool.h"
#include "snap/vmsnap.h"
#include "vmm/vm.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE         4096u
#define DEFAULT_RATE 25600u /* pages a second: 100 MiB/s */
#define TICK_MS      100u   /* a lone VM's scanner wakes this often */
#define ZERO_MAX     4096u  /* all-zero pages merged per scan */
#define RESIDENT_RUN 512u   /* pages asked of mincore at once */
#define POOL_ZERO    UINT64_MAX

struct mem_share {
    struct vm *vm;
    uint64_t npages, cursor;
    uint32_t rate;
    _Atomic uint64_t *pooled; /* bit per page: maps a pool page */
    _Atomic uint64_t *zeroed; /* bit per page: maps the zero page */
    uint32_t *pidx;           /* pool page + 1 last mapped there (its mapping stays the pool's) */
    uint64_t *last;           /* each page's hash at the scan before */
    uint64_t zero_hash;
    int64_t map_budget; /* host mappings merges may still add */
    int pool_fd;
    struct share_inbox *box;
    int box_mapped;
    uint64_t zero_list[ZERO_MAX];
    uint32_t nzero;
    /* A lone VM: its own pool, and the thread that scans. */
    struct share_pool *pool;
    struct share_client client;
    pthread_t thread;
    pthread_cond_t wake;
    int stop, thread_on;
    /* Pages unshared by a write, not yet told to the pool. */
    pthread_mutex_t lock;
    uint32_t *broken;
    uint64_t nbroken;
    _Atomic uint64_t merged, zero_merged, broken_hart, broken_device, scanned, rejected;
    _Atomic uint64_t npooled, nzeroed;
};

static int bit_get(_Atomic uint64_t *bits, uint64_t p)
{
    return (atomic_load_explicit(&bits[p / 64], memory_order_relaxed) >> (p % 64)) & 1;
}

static void bit_set(_Atomic uint64_t *bits, uint64_t p)
{
    atomic_fetch_or(&bits[p / 64], 1ull << (p % 64));
}

/* Clears the bit; returns whether this call did. */
static int bit_take(_Atomic uint64_t *bits, uint64_t p)
{
    uint64_t bit = 1ull << (p % 64);
    if (!(atomic_load_explicit(&bits[p / 64], memory_order_relaxed) & bit)) return 0;
    return (atomic_fetch_and(&bits[p / 64], ~bit) & bit) != 0;
}

int mem_share_page_shared(struct vm *vm, uint64_t gpage)
{
    struct mem_share *s = vm->share;
    return s && gpage < s->npages && bit_get(s->pooled, gpage);
}

int mem_share_page_zero(struct vm *vm, uint64_t gpage)
{
    struct mem_share *s = vm->share;
    return s && gpage < s->npages && bit_get(s->zeroed, gpage);
}

void mem_share_written(struct vm *vm, uint64_t pa, int device)
{
    struct mem_share *s = vm->share;
    uint64_t p = (pa - vm->ram_base) / PAGE;
    if (!s || pa < vm->ram_base || p >= s->npages) return;
    int pooled = bit_take(s->pooled, p), zero = bit_take(s->zeroed, p);
    if (pooled) {
        pthread_mutex_lock(&s->lock);
        s->broken[s->nbroken++] = (uint32_t)p;
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_sub(&s->npooled, 1);
    }
    if (zero) atomic_fetch_sub(&s->nzeroed, 1);
    if (pooled || zero) atomic_fetch_add(device ? &s->broken_device : &s->broken_hart, 1);
}

void mem_share_get_stats(struct vm *vm, struct mem_share_stats *st)
{
    struct mem_share *s = vm->share;
    memset(st, 0, sizeof(*st));
    if (!s) return;
    st->pooled = atomic_load(&s->npooled);
    st->zero = atomic_load(&s->nzeroed);
    st->merged = atomic_load(&s->merged);
    st->zero_merged = atomic_load(&s->zero_merged);
    st->broken_hart = atomic_load(&s->broken_hart);
    st->broken_device = atomic_load(&s->broken_device);
    st->scanned = atomic_load(&s->scanned);
    st->rejected = atomic_load(&s->rejected);
}

/* ---- merging (the VM paused, its device threads held) ---- */

static int page_is_zero(const uint8_t *p)
{
    uint64_t acc = 0;
    for (unsigned i = 0; i < PAGE; i += 8)
        acc |= __atomic_load_n((const uint64_t *)(const void *)(p + i), __ATOMIC_RELAXED);
    return acc == 0;
}

/* The page's mapping is the process's own anonymous memory again (its
 * content, if any, must be put back by the caller). */
static int map_anon(struct mem_share *s, uint64_t p)
{
    uint8_t *at = s->vm->ram + p * PAGE;
    if (!s->vm->ram_file && !s->pidx[p]) return madvise(at, PAGE, MADV_DONTNEED);
    if (mmap(at, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
        MAP_FAILED)
        return -1;
    s->pidx[p] = 0;
    s->map_budget -= 2;
    return 0;
}

static int merge_zero(struct mem_share *s, uint64_t p)
{
    if (bit_get(s->pooled, p) || bit_get(s->zeroed, p) || !page_is_zero(s->vm->ram + p * PAGE))
        return 0;
    if ((s->vm->ram_file || s->pidx[p]) && s->map_budget < 2) return 0;
    if (map_anon(s, p) < 0) return 0;
    bit_set(s->zeroed, p);
    atomic_fetch_add(&s->nzeroed, 1);
    atomic_fetch_add(&s->zero_merged, 1);
    return 1;
}

/* Host mappings a merge of pool page q at p adds: none where it continues
 * the pool mapping of a neighbour. */
static int maps_added(const struct mem_share *s, uint64_t p, uint64_t q)
{
    int n = 2;
    if (p > 0 && s->pidx[p - 1] == q) n--;
    if (p + 1 < s->npages && s->pidx[p + 1] == q + 2) n--;
    return n;
}

static int merge_pooled(struct mem_share *s, uint64_t p, uint64_t q, uint8_t *buf)
{
    uint8_t *at = s->vm->ram + p * PAGE;
    int add = maps_added(s, p, q);
    if (bit_get(s->pooled, p) || s->map_budget < add) return 0;
    if (pread(s->pool_fd, buf, PAGE, (off_t)(q * PAGE)) != PAGE || memcmp(buf, at, PAGE)) {
        atomic_fetch_add(&s->rejected, 1);
        return 0;
    }
    if (mmap(at, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE, s->pool_fd,
             (off_t)(q * PAGE)) == MAP_FAILED) {
        /* The page may be gone from RAM now: put it back. */
        if (map_anon(s, p) < 0) {
            vm_request_exit(s->vm, VM_EXIT_ERROR, 1, "page sharing: cannot map guest RAM back");
            return 0;
        }
        memcpy(at, buf, PAGE);
        return 0;
    }
    s->map_budget -= add;
    s->pidx[p] = (uint32_t)q + 1;
    if (bit_take(s->zeroed, p)) atomic_fetch_sub(&s->nzeroed, 1);
    bit_set(s->pooled, p);
    atomic_fetch_add(&s->npooled, 1);
    atomic_fetch_add(&s->merged, 1);
    return 1;
}

/* Merge the zero pages found by the last scan and the n pool pages the
 * inbox's map list names; mapped[i] says which were. Returns merges. */
static int merge(struct mem_share *s, uint32_t n)
{
    struct vm *vm = s->vm;
    struct share_inbox *b = s->box;
    uint8_t *buf = malloc(PAGE);
    int was_paused = vm_paused(vm), merged = 0;
    if (!buf || vm_pause(vm) < 0) {
        free(buf);
        return -1;
    }
    vmsnap_hold(vm, 1);
    for (uint32_t i = 0; i < s->nzero; i++)
        merged += merge_zero(s, s->zero_list[i]);
    s->nzero = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t p = b->map_page[i], q = b->map_pidx[i];
        b->mapped[i] = p < s->npages && q < UINT32_MAX - 1 && merge_pooled(s, p, q, buf);
        merged += b->mapped[i];
    }
    /* No hart keeps a write translation of a page merged now. */
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->harts[i]) vm_remote_fence(NULL, vm->harts[i], HART_EV_TLB);
    vmsnap_hold(vm, 0);
    if (!was_paused) vm_resume(vm);
    free(buf);
    return merged;
}

/* ---- scanning ---- */

/* Move the pages unshared since the last call into the inbox; 0 once every
 * one is in (only then may candidates be offered: a page still waiting
 * here must not be merged again before the pool hears it left). */
static int take_broken(struct mem_share *s)
{
    struct share_inbox *b = s->box;
    pthread_mutex_lock(&s->lock);
    uint64_t n = s->nbroken < SHARE_BROKEN_MAX ? s->nbroken : SHARE_BROKEN_MAX;
    memcpy(b->broken, s->broken + (s->nbroken - n), n * sizeof(*b->broken));
    s->nbroken -= n;
    int more = s->nbroken != 0;
    pthread_mutex_unlock(&s->lock);
    b->nbroken = (uint32_t)n;
    return more;
}

/* Hash page p; a candidate if it did not change since the scan before. */
static void scan_page(struct mem_share *s, uint64_t p)
{
    struct share_inbox *b = s->box;
    const uint8_t *ram = s->vm->ram + p * PAGE;
    RACY_READS_BEGIN();
    uint64_t h = share_page_hash(ram), prev = s->last[p];
    RACY_READS_END();
    s->last[p] = h;
    atomic_fetch_add_explicit(&s->scanned, 1, memory_order_relaxed);
    if (h != prev) return;
    if (h == s->zero_hash) {
        if (s->nzero < ZERO_MAX) s->zero_list[s->nzero++] = p;
        return;
    }
    RACY_READS_BEGIN();
    ram_copy_from(b->page[b->ncand], ram, PAGE);
    RACY_READS_END();
    if (share_page_hash(b->page[b->ncand]) == h) b->cand[b->ncand++] = p;
}

/* Returns the pages gone through (the budget, or fewer once the inbox or
 * the zero list is full). */
static uint32_t scan(struct mem_share *s, uint32_t budget)
{
    struct share_inbox *b = s->box;
    b->ncand = b->nmap = 0;
    s->nzero = 0;
    if (take_broken(s)) return budget;
    unsigned char vec[RESIDENT_RUN];
    uint64_t run_start = UINT64_MAX;
    uint32_t n = 0;
    for (; n < budget && b->ncand < SHARE_SLOTS && s->nzero < ZERO_MAX; n++) {
        uint64_t p = s->cursor;
        s->cursor = p + 1 < s->npages ? p + 1 : 0;
        if (run_start == UINT64_MAX || p < run_start || p >= run_start + RESIDENT_RUN) {
            /* Pages never touched hold nothing worth sharing: skip them
             * without reading them in. */
            run_start = p;
            uint64_t len = s->npages - p < RESIDENT_RUN ? s->npages - p : RESIDENT_RUN;
            if (mincore(s->vm->ram + p * PAGE, len * PAGE, vec) < 0) memset(vec, 1, sizeof(vec));
        }
        if (!(vec[p - run_start] & 1) || bit_get(s->pooled, p) || bit_get(s->zeroed, p) ||
            mem_page_pinned(s->vm, p)) /* a device is using it */
            continue;
        scan_page(s, p);
    }
    return n;
}

int mem_share_scan(struct vm *vm, uint32_t budget, char *err, size_t errlen)
{
    struct mem_share *s = vm->share;
    if (!s || s->pool) {
        snprintf(err, errlen, "page sharing is not driven by the service for this VM");
        return -1;
    }
    uint32_t n = scan(s, budget);
    if (s->nzero && merge(s, 0) < 0) {
        snprintf(err, errlen, "the VM is stopping");
        return -1;
    }
    return (int)n;
}

int mem_share_map(struct vm *vm, uint32_t n, char *err, size_t errlen)
{
    struct mem_share *s = vm->share;
    if (!s || s->pool) {
        snprintf(err, errlen, "page sharing is not driven by the service for this VM");
        return -1;
    }
    if (n > SHARE_SLOTS) {
        snprintf(err, errlen, "share-map: %u pages is more than %u", n, SHARE_SLOTS);
        return -1;
    }
    int r = merge(s, n);
    if (r < 0) snprintf(err, errlen, "the VM is stopping");
    return r;
}

/* ---- a lone VM: its own pool and scanner ---- */

/* One exchange with the VM's own pool; returns the pages gone through. */
static uint32_t local_exchange(struct mem_share *s, uint32_t budget)
{
    struct share_inbox *b = s->box;
    uint32_t went = scan(s, budget);
    for (uint32_t i = 0; i < b->nbroken; i++)
        share_pool_drop(s->pool, &s->client, b->broken[i]);
    for (uint32_t i = 0; i < b->ncand; i++) {
        int64_t q = share_pool_offer(s->pool, &s->client, b->cand[i], b->page[i]);
        if (q < 0) continue;
        b->map_page[b->nmap] = b->cand[i];
        b->map_pidx[b->nmap++] = (uint64_t)q;
    }
    if (!b->nmap && !s->nzero) return went;
    int r = merge(s, b->nmap);
    for (uint32_t i = 0; i < b->nmap; i++)
        share_pool_confirm(s->pool, &s->client, b->map_page[i], (uint32_t)b->map_pidx[i],
                           r >= 0 && b->mapped[i]);
    return r < 0 ? 0 : went;
}

static void local_round(struct mem_share *s, uint32_t budget)
{
    for (uint32_t left = budget, went = 1; left && went; left -= went)
        went = local_exchange(s, left);
}

static void *scanner_main(void *arg)
{
    struct mem_share *s = arg;
    uint32_t budget = s->rate / (1000 / TICK_MS);
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += TICK_MS * 1000000l;
        if (t.tv_nsec >= 1000000000l) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000l;
        }
        pthread_cond_timedwait(&s->wake, &s->lock, &t);
        if (s->stop || atomic_load(&s->vm->exit_reason)) continue;
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_lock(&s->vm->admin); /* not while a snapshot pauses the VM */
        local_round(s, budget ? budget : 1);
        pthread_mutex_unlock(&s->vm->admin);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

void mem_discard(struct vm *vm, uint8_t *host, uint64_t gpa, uint64_t len)
{
    struct mem_share *s = vm->share;
    for (uint64_t off = 0; off < len; off += PAGE) {
        uint64_t p = (gpa + off - vm->ram_base) / PAGE;
        /* A page mapped from the pool would only go back to the pool's. */
        if (!s || p >= s->npages || !s->pidx[p] || map_anon(s, p) < 0)
            madvise(host + off, PAGE, MADV_DONTNEED);
    }
    mem_written(vm, gpa, len);
}

/* ---- setup ---- */

/* How many more mappings this process may make, with room to spare. */
static int64_t mapping_room(void)
{
    long max = 65530, have = 0;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1) max = 65530;
        fclose(f);
    }
    f = fopen("/proc/self/maps", "re");
    for (int c; f && (c = getc(f)) != EOF;)
        have += c == '\n';
    if (f) fclose(f);
    return (max - have) * 3 / 4 - 1024;
}

static int setup_box(struct mem_share *s, int inbox_fd, char *err, size_t errlen)
{
    if (inbox_fd < 0) {
        s->box = aligned_alloc(PAGE, sizeof(*s->box));
        if (!s->box) snprintf(err, errlen, "page sharing: out of memory");
        return s->box ? 0 : -1;
    }
    struct stat st;
    if (fstat(inbox_fd, &st) < 0 || st.st_size < (off_t)sizeof(*s->box)) {
        snprintf(err, errlen, "page sharing: the exchange buffer is too small");
        return -1;
    }
    s->box = mmap(NULL, sizeof(*s->box), PROT_READ | PROT_WRITE, MAP_SHARED, inbox_fd, 0);
    if (s->box == MAP_FAILED) {
        s->box = NULL;
        snprintf(err, errlen, "page sharing: cannot map the exchange buffer: %s", strerror(errno));
        return -1;
    }
    s->box_mapped = 1;
    return 0;
}

static int setup_pool(struct mem_share *s, int pool_fd, char *err, size_t errlen)
{
    if (pool_fd >= 0) {
        s->pool_fd = pool_fd;
        return 0;
    }
    s->pool = calloc(1, sizeof(*s->pool));
    uint64_t limit = s->npages / 2 + 1;
    if (!s->pool || share_pool_init(s->pool, (uint32_t)limit, err, errlen) < 0) return -1;
    if (share_client_init(s->pool, &s->client, s->npages) < 0) {
        snprintf(err, errlen, "page sharing: out of memory");
        return -1;
    }
    s->pool_fd = s->pool->fd;
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, scanner_main, s)) {
        snprintf(err, errlen, "page sharing: cannot start its thread");
        return -1;
    }
    s->thread_on = 1;
    return 0;
}

int mem_share_start(struct vm *vm, uint32_t rate, int pool_fd, int inbox_fd, char *err,
                    size_t errlen)
{
    if (vm->swap) {
        snprintf(err, errlen, "page sharing cannot be combined with --mem-limit yet");
        return -1;
    }
    struct mem_share *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "page sharing: out of memory");
        return -1;
    }
    s->vm = vm;
    s->npages = vm->ram_size / PAGE;
    s->rate = rate ? rate : DEFAULT_RATE;
    s->pool_fd = -1;
    size_t words = (size_t)(s->npages + 63) / 64;
    s->pooled = calloc(words, sizeof(*s->pooled));
    s->zeroed = calloc(words, sizeof(*s->zeroed));
    s->pidx = calloc(s->npages, sizeof(*s->pidx));
    s->last = calloc(s->npages, sizeof(*s->last));
    s->broken = calloc(s->npages, sizeof(*s->broken));
    uint8_t *zero = calloc(1, PAGE);
    pthread_mutex_init(&s->lock, NULL);
    s->map_budget = mapping_room();
    vm->share = s;
    if (!s->pooled || !s->zeroed || !s->pidx || !s->last || !s->broken || !zero) {
        snprintf(err, errlen, "page sharing: out of memory");
        free(zero);
        mem_share_stop(vm);
        return -1;
    }
    s->zero_hash = share_page_hash(zero);
    free(zero);
    if (setup_box(s, inbox_fd, err, errlen) < 0 || setup_pool(s, pool_fd, err, errlen) < 0) {
        mem_share_stop(vm);
        return -1;
    }
    return 0;
}

void mem_share_stop(struct vm *vm)
{
    struct mem_share *s = vm->share;
    if (!s) return;
    if (s->thread_on) {
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    /* Guest RAM keeps its mappings (the pool's pages stay alive while they
     * are mapped); only the bookkeeping goes. */
    vm->share = NULL;
    if (s->pool) {
        /* RAM may still map pool pages (a snapshot at exit reads it): the
         * pool's memory goes when the last mapping does. */
        free(s->client.ref);
        share_pool_destroy(s->pool);
        free(s->pool);
    } else if (s->pool_fd >= 0) {
        close(s->pool_fd);
    }
    if (s->box_mapped)
        munmap(s->box, sizeof(*s->box));
    else
        free(s->box);
    free((void *)s->pooled);
    free((void *)s->zeroed);
    free(s->pidx);
    free(s->last);
    free(s->broken);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
