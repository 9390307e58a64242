/* Page sharing between the service's VMs: the service owns the one page
 * pool (mem/sharepool.h) and drives every sharing VM's worker through it
 * (mem/share.h has the worker's side and the exchange format).
 *
 * Each VM whose definition has share_pages gets, at its start, a read-only
 * descriptor of the pool (fd 5) and an exchange buffer of its own (a memfd,
 * fd 6). A thread of the service goes round the running ones: "share-scan
 * BUDGET" makes the worker hash its next pages and leave its candidates and
 * the pages it stopped sharing in the buffer; the service copies each
 * candidate out (the worker could change it meanwhile), offers it to the
 * pool, writes back which pool pages to map, and "share-map N" makes the
 * worker compare and map them. What the worker writes is trusted for
 * nothing: the pool hashes and compares its own copies, and a worker can
 * only drop references it holds itself (by guest page). When a worker
 * ends, its references go. */
#include "host/host.h"
#include "mem/share.h"
#include "mem/sharepool.h"
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SHARE_INTERVAL_NS 200000000ull /* each sharing VM gets a round this often */

struct host_share {
    pthread_mutex_t lock; /* a round, or the end of the worker */
    struct share_client client;
    struct share_inbox *box; /* the service's mapping of the exchange buffer */
    int live;                /* the worker runs: rounds may go on */
    /* From the worker's "share" figures. */
    _Atomic uint64_t pooled, zero, merged, broken;
};

static int pool_ready(struct service *svc, char *err, size_t errlen)
{
    if (svc->pool) return 0;
    struct share_pool *p = calloc(1, sizeof(*p));
    uint64_t pages = svc->host_mem ? svc->host_mem / SHARE_PAGE : 1u << 20;
    if (pages > 1u << 28) pages = 1u << 28;
    if (!p || share_pool_init(p, (uint32_t)pages, err, errlen) < 0) {
        free(p);
        return -1;
    }
    svc->pool = p;
    return 0;
}

int host_share_prepare(struct service *svc, struct host_vm *vm, int fds[2], char *err,
                       size_t errlen)
{
    fds[0] = fds[1] = -1;
    pthread_mutex_lock(&svc->lock);
    int r = pool_ready(svc, err, errlen);
    pthread_mutex_unlock(&svc->lock);
    if (r < 0) return -1;
    struct host_share *s = vm->share;
    if (!s) {
        if (!(s = calloc(1, sizeof(*s)))) goto oom;
        pthread_mutex_init(&s->lock, NULL);
        vm->share = s;
    }
    host_share_end(svc, vm); /* anything left from the last run */
    fds[1] = memfd_create("vmon-share-exchange", MFD_CLOEXEC);
    if (fds[1] < 0 || ftruncate(fds[1], sizeof(struct share_inbox)) < 0) goto fail;
    struct share_inbox *box =
        mmap(NULL, sizeof(*box), PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
    if (box == MAP_FAILED) goto fail;
    pthread_mutex_lock(&s->lock);
    s->box = box;
    r = share_client_init(svc->pool, &s->client, vm->def.mem / SHARE_PAGE);
    s->live = r == 0;
    s->pooled = s->zero = s->merged = s->broken = 0;
    pthread_mutex_unlock(&s->lock);
    if (r < 0) goto oom;
    if ((fds[0] = share_pool_ro_fd(svc->pool)) < 0) goto fail;
    return 0;
oom:
    errno = ENOMEM;
fail:
    snprintf(err, errlen, "page sharing: cannot set up the VM's exchange: %s", strerror(errno));
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0) close(fds[i]);
    fds[0] = fds[1] = -1;
    host_share_end(svc, vm);
    return -1;
}

void host_share_end(struct service *svc, struct host_vm *vm)
{
    struct host_share *s = vm->share;
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->live = 0;
    if (svc->pool && s->client.ref) share_client_release(svc->pool, &s->client);
    if (s->box) munmap(s->box, sizeof(*s->box));
    s->box = NULL;
    pthread_mutex_unlock(&s->lock);
}

void host_share_free(struct host_vm *vm)
{
    struct host_share *s = vm->share;
    if (!s) return;
    free(s->client.ref);
    if (s->box) munmap(s->box, sizeof(*s->box));
    pthread_mutex_destroy(&s->lock);
    free(s);
    vm->share = NULL;
}

/* ---- a round ---- */

static void read_figures(struct host_share *s, const char *reply)
{
    unsigned long long pooled, zero, merged, zm, bh, bd;
    if (sscanf(reply,
               "ok share pooled %llu zero %llu merged %llu zero-merged %llu broken-hart %llu "
               "broken-device %llu",
               &pooled, &zero, &merged, &zm, &bh, &bd) == 6) {
        s->pooled = pooled;
        s->zero = zero;
        s->merged = merged + zm;
        s->broken = bh + bd;
    }
}

/* Offer the candidates the worker left; the pages to map go back in the
 * buffer. Returns how many. */
static uint32_t offer_all(struct share_pool *pool, struct host_share *s, uint8_t *copy)
{
    struct share_inbox *b = s->box;
    uint32_t nbroken = b->nbroken, ncand = b->ncand, nmap = 0;
    if (nbroken > SHARE_BROKEN_MAX) nbroken = SHARE_BROKEN_MAX;
    if (ncand > SHARE_SLOTS) ncand = SHARE_SLOTS;
    for (uint32_t i = 0; i < nbroken; i++)
        share_pool_drop(pool, &s->client, b->broken[i]);
    for (uint32_t i = 0; i < ncand; i++) {
        uint64_t gpage = b->cand[i];
        memcpy(copy, b->page[i], SHARE_PAGE);
        int64_t q = share_pool_offer(pool, &s->client, gpage, copy);
        if (q < 0) continue;
        b->map_page[nmap] = gpage;
        b->map_pidx[nmap++] = (uint64_t)q;
    }
    return nmap;
}

/* One exchange: scan up to budget pages, map what matched. Returns the
 * pages the worker went through, 0 when it did not answer. */
static uint32_t exchange(struct service *svc, struct host_vm *vm, uint32_t budget, uint8_t *copy)
{
    struct host_share *s = vm->share;
    char cmd[64], reply[320];
    unsigned long went = 0;
    snprintf(cmd, sizeof(cmd), "share-scan %u", budget);
    if (host_worker_try_request(vm, cmd, reply, sizeof(reply)) != HOST_OK ||
        sscanf(reply, "ok %lu", &went) != 1)
        return 0;
    uint32_t nmap = offer_all(svc->pool, s, copy);
    /* Pages and pool pages are copied out first: the worker may rewrite
     * the buffer while it answers. */
    uint64_t pages[SHARE_SLOTS], pidx[SHARE_SLOTS];
    memcpy(pages, s->box->map_page, nmap * sizeof(*pages));
    memcpy(pidx, s->box->map_pidx, nmap * sizeof(*pidx));
    int done = 0;
    if (nmap) {
        snprintf(cmd, sizeof(cmd), "share-map %u", nmap);
        done = host_worker_request_within(vm, cmd, 10000, reply, sizeof(reply)) == HOST_OK &&
               !strncmp(reply, "ok ", 3);
    }
    for (uint32_t i = 0; i < nmap; i++)
        share_pool_confirm(svc->pool, &s->client, pages[i], (uint32_t)pidx[i],
                           done && s->box->mapped[i]);
    return (uint32_t)(went < budget ? went : budget);
}

/* A VM's round: exchanges until its budget of pages is gone through. */
static void round_vm(struct service *svc, struct host_vm *vm, uint32_t budget, uint8_t *copy)
{
    struct host_share *s = vm->share;
    char reply[320];
    pthread_mutex_lock(&s->lock);
    for (uint32_t left = budget, went = 1; s->live && s->box && left && went; left -= went)
        went = exchange(svc, vm, left, copy);
    if (s->live && host_worker_try_request(vm, "share", reply, sizeof(reply)) == HOST_OK)
        read_figures(s, reply);
    pthread_mutex_unlock(&s->lock);
}

void *host_share_thread(void *arg)
{
    struct service *svc = arg;
    uint8_t *copy = malloc(SHARE_PAGE);
    while (copy && !atomic_load(&svc->quit)) {
        struct host_vm *vms[64];
        unsigned n = 0;
        pthread_mutex_lock(&svc->lock);
        for (struct host_vm *vm = svc->vms; vm && n < 64; vm = vm->next) {
            if (!vm->pid || vm->state != HVM_RUNNING || !vm->share) continue;
            vm->refs++; /* not deleted meanwhile */
            vms[n++] = vm;
        }
        uint32_t budget = (uint32_t)(svc->share_rate * atomic_load(&svc->share_boost) *
                                     (SHARE_INTERVAL_NS / 1e9));
        pthread_mutex_unlock(&svc->lock);
        for (unsigned i = 0; i < n && !atomic_load(&svc->quit); i++)
            round_vm(svc, vms[i], budget ? budget : 1, copy);
        pthread_mutex_lock(&svc->lock);
        for (unsigned i = 0; i < n; i++)
            vms[i]->refs--;
        pthread_mutex_unlock(&svc->lock);
        struct timespec ts = {0, (long)SHARE_INTERVAL_NS};
        nanosleep(&ts, NULL);
    }
    free(copy);
    return NULL;
}

/* ---- figures ---- */

struct json_object *host_share_json(const struct host_vm *vm)
{
    struct host_share *s = vm->share;
    if (!vm->def.share_pages) return NULL;
    json_object *o = json_object_new_object();
    uint64_t pooled = s ? s->pooled : 0, zero = s ? s->zero : 0;
    json_object_object_add(o, "pooled_pages", json_object_new_int64((int64_t)pooled));
    /* The pool's own count of this VM's references (exact; 0 once its
     * worker has ended). */
    json_object_object_add(o, "pool_refs",
                           json_object_new_int64(s ? (int64_t)atomic_load(&s->client.nrefs) : 0));
    json_object_object_add(o, "zero_pages", json_object_new_int64((int64_t)zero));
    json_object_object_add(o, "merges", json_object_new_int64((int64_t)(s ? s->merged : 0)));
    json_object_object_add(o, "breaks", json_object_new_int64((int64_t)(s ? s->broken : 0)));
    return o;
}

struct json_object *host_share_pool_json(struct service *svc)
{
    json_object *o = json_object_new_object();
    uint64_t held = 0, refs = 0, zero = 0;
    if (svc->pool) {
        pthread_mutex_lock(&svc->pool->lock);
        held = svc->pool->held;
        refs = svc->pool->refs;
        pthread_mutex_unlock(&svc->pool->lock);
    }
    for (const struct host_vm *vm = svc->vms; vm; vm = vm->next)
        if (vm->share && vm->pid) zero += vm->share->zero;
    json_object_object_add(o, "pool_pages", json_object_new_int64((int64_t)held));
    json_object_object_add(o, "guest_pages", json_object_new_int64((int64_t)refs));
    json_object_object_add(o, "zero_pages", json_object_new_int64((int64_t)zero));
    /* Host memory the pool saves: every guest page mapping it, but for the
     * one copy each pool page is, and every zero page. */
    uint64_t saved = (refs > held ? refs - held : 0) + zero;
    json_object_object_add(o, "saved", json_object_new_int64((int64_t)(saved * SHARE_PAGE)));
    return o;
}
