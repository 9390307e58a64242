/* virtio-rng (virtio 1.2 section 5.4): one request queue; each buffer the
 * driver posts is filled with bytes from the host's getrandom(). Served
 * right on the notifying vCPU thread: getrandom does not block once the
 * host pool is initialised, and requests are small. */
#include "virtio/devices.h"
#include "virtio/virtio.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#define RNG_QUEUE_MAX   64
#define RNG_MAX_REQUEST (64u << 10) /* bytes served per request at most */

struct rng {
    pthread_mutex_t lock; /* one request buffer, several notifying vCPUs */
    struct vq_req req;
};

static void rng_notify(struct virtio_dev *d, unsigned q)
{
    struct rng *r = d->priv;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        struct vq_req *req = &r->req;
        int got = vq_pop(d, q, req);
        if (got <= 0) break;
        uint32_t written = 0;
        for (unsigned i = req->n_out; i < req->n_out + req->n_in; i++) {
            uint32_t want = req->seg[i].len;
            if (written + want > RNG_MAX_REQUEST) want = RNG_MAX_REQUEST - written;
            uint32_t done = 0;
            while (done < want) {
                ssize_t n = getrandom(req->seg[i].ptr + done, want - done, 0);
                if (n <= 0) break;
                done += (uint32_t)n;
            }
            written += done;
            if (done < req->seg[i].len) break;
        }
        vq_push(d, q, req, written);
    }
    pthread_mutex_unlock(&r->lock);
    vq_notify(d, q);
}

static void rng_destroy(struct virtio_dev *d)
{
    struct rng *r = d->priv;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static const struct virtio_dev_ops rng_ops = {
    .name = "virtio-rng",
    .notify = rng_notify,
    .destroy = rng_destroy,
};

int virtio_rng_create(struct vm *vm, const struct virtio_slot *slot, char *err, size_t errlen)
{
    struct rng *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&r->lock, NULL);
    if (!virtio_mmio_create(vm, slot->base, slot->irq, VIRTIO_ID_RNG, &rng_ops, r,
                            VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX, 1, RNG_QUEUE_MAX, NULL,
                            0)) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        snprintf(err, errlen, "cannot create virtio-rng");
        return -1;
    }
    return 0;
}
