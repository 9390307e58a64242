/* Whole-VM snapshots (vmsnap.h): the machine record, harts, devices, ROM
 * and RAM in one file (snap.h). */
#include "snap/vmsnap.h"
#include "mem/pagemap.h"
#include "mem/share.h"
#include "virtio/devices.h"
#include "vmm/vm.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAG_MACH SNAP_TAG('M', 'A', 'C', 'H')
#define TAG_HART SNAP_TAG('H', 'A', 'R', 'T')
#define TAG_DEV  SNAP_TAG('D', 'E', 'V', ' ')
#define TAG_MEM  SNAP_TAG('M', 'E', 'M', ' ')
#define MAX_ARGS 256

/* The CSRs a hart's record carries, written and read back through
 * csr_write at M-mode, so a hostile file gets the same WARL treatment as
 * a guest's own writes. PMP addresses come before the configuration that
 * may lock them. */
static const unsigned hart_csrs[] = {
    0x300, /* mstatus */
    0x302, 0x303, 0x304, 0x305, 0x306, 0x30a, 0x340, 0x341, 0x342, 0x343, 0x105, 0x106,
    0x10a, 0x140, 0x141, 0x142, 0x143, 0x180, 0x3b0, 0x3b1, 0x3b2, 0x3b3, 0x3b4, 0x3b5,
    0x3b6, 0x3b7, 0x3b8, 0x3b9, 0x3ba, 0x3bb, 0x3bc, 0x3bd, 0x3be, 0x3bf, 0x3a0, 0x3a2,
};
#define N_CSRS (sizeof(hart_csrs) / sizeof(hart_csrs[0]))

static void save_hart(struct vm *vm, unsigned id, struct snap_w *w)
{
    struct hart *h = vm->harts[id];
    struct vcpu *v = &vm->vcpu[id];
    snap_begin(w, TAG_HART, id);
    for (unsigned i = 0; i < 32; i++)
        snap_u64(w, h->x[i]);
    for (unsigned i = 0; i < 32; i++)
        snap_u64(w, h->f[i]);
    snap_u64(w, h->pc);
    snap_u32(w, h->priv);
    unsigned priv = h->priv;
    h->priv = PRV_M; /* read every CSR whatever mode the hart is in */
    snap_u32(w, (uint32_t)N_CSRS);
    for (unsigned i = 0; i < N_CSRS; i++) {
        uint64_t val = 0;
        csr_read(h, hart_csrs[i], &val);
        snap_u32(w, hart_csrs[i]);
        snap_u64(w, val);
    }
    h->priv = priv;
    snap_u32(w, h->fflags);
    snap_u32(w, h->frm);
    snap_u64(w, h->mip);
    snap_u64(w, atomic_load(&h->mip_async));
    snap_u64(w, h->instret);
    snap_u64(w, h->instret_base);
    snap_u64(w, atomic_load(&h->mtimecmp));
    snap_u64(w, h->stimecmp);
    snap_u32(w, (uint32_t)atomic_load(&v->hsm_state));
    snap_u32(w, (uint32_t)v->idle);
    snap_u64(w, v->sta_addr);
    snap_u32(w, v->sta_seq);
    snap_u64(w, atomic_load(&v->steal_ns));
    snap_end(w);
}

static int load_hart(struct vm *vm, unsigned id, struct snap_r *r)
{
    struct hart *h = vm->harts[id];
    struct vcpu *v = &vm->vcpu[id];
    for (unsigned i = 0; i < 32; i++)
        h->x[i] = snap_get_u64(r);
    h->x[0] = 0;
    for (unsigned i = 0; i < 32; i++)
        h->f[i] = snap_get_u64(r);
    h->pc = snap_get_u64(r) & ~1ull;
    uint32_t priv = snap_get_u32(r);
    if (priv != PRV_U && priv != PRV_S && priv != PRV_M)
        return snap_fail(r, "hart %u: privilege %u", id, priv);
    uint32_t n = snap_get_u32(r);
    if (n > 4096) return snap_fail(r, "hart %u: %u CSRs", id, n);
    h->priv = PRV_M;
    for (uint32_t i = 0; i < n && !r->err[0]; i++) {
        uint32_t csr = snap_get_u32(r);
        uint64_t val = snap_get_u64(r);
        if (!r->err[0] && (csr > 0xfff || csr_write(h, csr, val) < 0))
            return snap_fail(r, "hart %u: CSR 0x%x cannot be written", id, csr);
    }
    h->priv = priv;
    h->fflags = snap_get_u32(r) & 0x1f;
    h->frm = snap_get_u32(r) & 7;
    h->mip = snap_get_u64(r) & MIP_ALL;
    atomic_store(&h->mip_async, snap_get_u64(r) & MIP_ALL);
    h->instret = snap_get_u64(r);
    atomic_store(&v->insns, h->instret); /* as published after a run: stats count on from it */
    h->instret_base = snap_get_u64(r);
    atomic_store(&h->mtimecmp, snap_get_u64(r));
    h->stimecmp = snap_get_u64(r);
    uint32_t hsm = snap_get_u32(r);
    if (hsm != HSM_STARTED && hsm != HSM_STOPPED && hsm != HSM_SUSPENDED)
        return snap_fail(r, "hart %u: HSM state %u", id, hsm);
    atomic_store(&v->hsm_state, (int)hsm);
    v->idle = snap_get_u32(r) != 0;
    v->sta_addr = snap_get_u64(r);
    v->sta_seq = snap_get_u32(r) & ~1u;
    atomic_store(&v->steal_ns, snap_get_u64(r));
    if (v->sta_addr && ((v->sta_addr & 63) || v->sta_addr < vm->ram_base ||
                        v->sta_addr - vm->ram_base > vm->ram_size - 64))
        return snap_fail(r, "hart %u: steal-time area 0x%llx outside RAM", id,
                         (unsigned long long)v->sta_addr);
    h->resv_valid = 0;
    h->check = 1;
    mmu_flush_tlb(h);
    return snap_done(r);
}

static void save_machine(struct vm *vm, char *const *args, unsigned nargs, struct snap_w *w)
{
    snap_begin(w, TAG_MACH, 0);
    snap_u32(w, vm->ncpus);
    snap_u64(w, vm->ram_size);
    snap_u32(w, (uint32_t)vm->cfg.hyp_sbi);
    snap_u64(w, vm_time(vm));
    snap_u32(w, nargs);
    for (unsigned i = 0; i < nargs; i++)
        snap_str(w, args[i]);
    snap_end(w);
}

/* Every device's record: its bus slot's name and window, then its state. */
static void save_devices(struct vm *vm, struct snap_w *w)
{
    for (unsigned i = 0; i < vm->bus.n_mmio; i++) {
        const struct mmio_region *m = &vm->bus.mmio[i];
        snap_begin(w, TAG_DEV, i);
        snap_str(w, m->ops->name);
        snap_u64(w, m->base);
        snap_u64(w, m->size);
        if (m->ops->save) m->ops->save(m->dev, w);
        snap_end(w);
    }
    for (unsigned i = 0; i < vm->bus.n_mem; i++) {
        const struct mem_region *m = &vm->bus.mem[i];
        if (m->host == vm->ram) continue;
        snap_begin(w, TAG_MEM, i);
        snap_u64(w, m->base);
        snap_u64(w, m->size);
        snap_put(w, m->host, m->size);
        snap_end(w);
    }
}

uint8_t *vmsnap_touched(const struct vm *vm)
{
    /* Pages in vmon's own swap look untouched to the kernel. */
    uint8_t *map = vm->ram_file || vm->swap ? NULL : malloc(vm->ram_size / 4096);
    if (map && mem_touched_pages(vm->ram, vm->ram_size, map) < 0) {
        free(map);
        map = NULL;
    }
    /* A page mapped from the sharing pool is not this process's own. */
    for (uint64_t p = 0; map && vm->share && p < vm->ram_size / 4096; p++)
        map[p] |= (uint8_t)mem_share_page_shared((struct vm *)vm, p);
    return map;
}

void vmsnap_hold(struct vm *vm, int on)
{
    for (unsigned i = 0; i < vm->bus.n_mmio; i++)
        if (vm->bus.mmio[i].ops->hold) vm->bus.mmio[i].ops->hold(vm->bus.mmio[i].dev, on);
}

void vmsnap_machine(struct vm *vm, struct snap_w *w)
{
    save_machine(vm, vm->machine_args, vm->n_machine_args, w);
}

void vmsnap_state(struct vm *vm, struct snap_w *w)
{
    save_machine(vm, vm->machine_args, vm->n_machine_args, w);
    for (unsigned i = 0; i < vm->ncpus; i++)
        save_hart(vm, i, w);
    save_devices(vm, w);
}

/* Into fd if it is one, else to path (through path.tmp). */
static int save_to(struct vm *vm, const char *path, int fd, char *err, size_t errlen)
{
    /* Devices with threads of their own stop writing guest RAM until the
     * file is written: the RAM image and the rings agree. */
    vmsnap_hold(vm, 1);
    struct snap_w w;
    snap_w_init(&w);
    vmsnap_state(vm, &w);
    uint8_t *touched = vmsnap_touched(vm);
    int r =
        fd >= 0
            ? snap_write_fd(fd, path, &w, vm->ram, touched, vm->ram_base, vm->ram_size, err, errlen)
            : snap_write_file(path, &w, vm->ram, touched, vm->ram_base, vm->ram_size, err, errlen);
    int e = errno;
    free(touched);
    snap_w_free(&w);
    vmsnap_hold(vm, 0);
    /* A sandboxed VM writes by path only where it was given to. */
    if (r < 0 && fd < 0 && e == EACCES && vm->isolation.landlock_abi) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n,
                 " (this sandboxed VM may only write snapshots into --snapshot-on-exit's "
                 "directory, or into a file its service opens for it)");
    }
    return r;
}

int vmsnap_save(struct vm *vm, const char *path, char *err, size_t errlen)
{
    return save_to(vm, path, -1, err, errlen);
}

/* The nth stored option named opt ("--disk") becomes opt=value. */
static int set_machine_arg(struct vm *vm, const char *opt, unsigned nth, const char *value)
{
    size_t ol = strlen(opt);
    for (unsigned i = 0; i < vm->n_machine_args; i++) {
        char *a = vm->machine_args[i];
        if (strncmp(a, opt, ol) || a[ol] != '=' || nth--) continue;
        size_t n = ol + strlen(value) + 2;
        char *s = malloc(n);
        if (!s) return -1;
        snprintf(s, n, "%s=%s", opt, value);
        free(a);
        vm->machine_args[i] = s;
        return 0;
    }
    return -1;
}

/* After a snapshot at path: every writable disk goes on in an overlay
 * (path.diskN.qcow2), so its image stays as the snapshot left it. All or
 * none: 0, or -1 with err and every disk back on its image. */
static int disks_to_overlays(struct vm *vm, const char *path, char *err, size_t errlen)
{
    char specs[VM_MAX_DISKS][PATH_MAX + 64];
    int moved[VM_MAX_DISKS] = {0};
    unsigned i;
    for (i = 0; i < vm->ndisks; i++) {
        char ov[PATH_MAX + 32];
        snprintf(ov, sizeof(ov), "%s.disk%u.qcow2", path, i);
        int r = virtio_blk_to_overlay(vm, i, ov, specs[i], sizeof(specs[i]), err, errlen);
        if (r < 0) break;
        moved[i] = r == 0;
    }
    if (i < vm->ndisks) {
        char e2[256];
        while (i--)
            if (moved[i]) virtio_blk_undo_overlay(vm, i, e2, sizeof(e2));
        return -1;
    }
    for (i = 0; i < vm->ndisks; i++) /* a later snapshot or migration names the overlay */
        if (moved[i] && set_machine_arg(vm, "--disk", i, specs[i]) < 0)
            vm_log(vm, VM_LOG_WARN, NULL, "disk %u: its option was not updated", i);
    return 0;
}

int vmsnap_save_live(struct vm *vm, const char *path, int fd, int overlays, char *err,
                     size_t errlen)
{
    if (overlays && vm->isolation.landlock_abi) {
        snprintf(err, errlen,
                 "snapshot --overlay: this sandboxed VM's file system is confined, so it cannot "
                 "make its disks' overlays (run it with vmon run, without --sandbox)");
        return -1;
    }
    int was_paused = vm_paused(vm);
    if (vm_pause(vm) < 0) {
        snprintf(err, errlen, "the VM is stopping");
        return -1;
    }
    int r = save_to(vm, path, fd, err, errlen);
    if (r == 0 && overlays && disks_to_overlays(vm, path, err, errlen) < 0) {
        unlink(path); /* its disks would not stay as it needs them */
        r = -1;
    }
    if (!was_paused) vm_resume(vm);
    return r;
}

void vmsnap_free_args(char **args, unsigned nargs)
{
    if (!args) return;
    for (unsigned i = 0; i < nargs; i++)
        free(args[i]);
    free(args);
}

int vmsnap_args(const struct snap_file *f, char ***args, unsigned *nargs, char *err, size_t errlen)
{
    struct snap_r r;
    *args = NULL;
    *nargs = 0;
    if (snap_find(f, TAG_MACH, 0, &r) < 0) {
        snprintf(err, errlen, "corrupt snapshot: no machine record");
        return -1;
    }
    snap_get_u32(&r);
    snap_get_u64(&r);
    snap_get_u32(&r);
    snap_get_u64(&r);
    uint32_t n = snap_get_u32(&r);
    if (!r.err[0] && n > MAX_ARGS) snap_fail(&r, "%u options", n);
    char **a = r.err[0] ? NULL : calloc(n + 1, sizeof(*a));
    for (uint32_t i = 0; a && i < n && !r.err[0]; i++) {
        char buf[VMSNAP_ARG_MAX];
        if (snap_get_str(&r, buf, sizeof(buf)) == 0 && !(a[i] = strdup(buf)))
            snap_fail(&r, "out of memory");
    }
    if (!a || snap_done(&r) < 0) {
        snprintf(err, errlen, "corrupt snapshot: machine record: %s",
                 r.err[0] ? r.err : "out of memory");
        vmsnap_free_args(a, n);
        return -1;
    }
    *args = a;
    *nargs = n;
    return 0;
}

static int load_machine(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
    struct snap_r r;
    if (snap_find(f, TAG_MACH, 0, &r) < 0) {
        snprintf(err, errlen, "corrupt snapshot: no machine record");
        return -1;
    }
    uint32_t ncpus = snap_get_u32(&r);
    uint64_t ram = snap_get_u64(&r);
    uint32_t hyp = snap_get_u32(&r);
    uint64_t t = snap_get_u64(&r);
    if (r.err[0]) {
        snprintf(err, errlen, "corrupt snapshot: machine record: %s", r.err);
        return -1;
    }
    if (ncpus != vm->ncpus || ram != vm->ram_size || ram != f->ram_size ||
        f->ram_base != vm->ram_base || (hyp != 0) != (vm->cfg.hyp_sbi != 0)) {
        snprintf(err, errlen,
                 "the snapshot is of a machine with %u vCPUs, %llu MiB of RAM and %s; this one "
                 "has %u, %llu MiB and %s",
                 ncpus, (unsigned long long)(ram >> 20), hyp ? "no firmware" : "firmware",
                 vm->ncpus, (unsigned long long)(vm->ram_size >> 20),
                 vm->cfg.hyp_sbi ? "no firmware" : "firmware");
        return -1;
    }
    /* Guest time goes on from where it stood when the snapshot was taken. */
    atomic_store(&vm->time_base_ns, host_time_ns() - t * (1000000000ull / VM_TIMEBASE_HZ));
    atomic_store(&vm->pause_start_ns, 0);
    return 0;
}

static int load_device(struct vm *vm, unsigned i, const struct snap_file *f, char *err,
                       size_t errlen)
{
    const struct mmio_region *m = &vm->bus.mmio[i];
    struct snap_r r;
    if (snap_find(f, TAG_DEV, i, &r) < 0) {
        snprintf(err, errlen, "the snapshot has no %s at 0x%llx (a different machine?)",
                 m->ops->name, (unsigned long long)m->base);
        return -1;
    }
    char name[64];
    snap_get_str(&r, name, sizeof(name));
    uint64_t base = snap_get_u64(&r), size = snap_get_u64(&r);
    if (!r.err[0] && (strcmp(name, m->ops->name) || base != m->base || size != m->size)) {
        snprintf(err, errlen,
                 "the snapshot has %s at 0x%llx where this machine has %s at 0x%llx (give the "
                 "same devices in the same order)",
                 name, (unsigned long long)base, m->ops->name, (unsigned long long)m->base);
        return -1;
    }
    if (!r.err[0] && m->ops->load) m->ops->load(m->dev, &r);
    if (snap_done(&r) < 0) {
        snprintf(err, errlen, "snapshot: %s at 0x%llx: %s", m->ops->name,
                 (unsigned long long)m->base, r.err);
        return -1;
    }
    return 0;
}

static int load_rom(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
    for (unsigned i = 0; i < vm->bus.n_mem; i++) {
        const struct mem_region *m = &vm->bus.mem[i];
        struct snap_r r;
        if (m->host == vm->ram || snap_find(f, TAG_MEM, i, &r) < 0) continue;
        uint64_t base = snap_get_u64(&r), size = snap_get_u64(&r);
        if (!r.err[0] && (base != m->base || size != m->size))
            snap_fail(&r, "region at 0x%llx is not the one at 0x%llx", (unsigned long long)base,
                      (unsigned long long)m->base);
        snap_get(&r, m->host, m->size);
        if (snap_done(&r) < 0) {
            snprintf(err, errlen, "snapshot: memory at 0x%llx: %s", (unsigned long long)m->base,
                     r.err);
            return -1;
        }
    }
    return 0;
}

int vmsnap_load(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
    if (load_machine(vm, f, err, errlen) < 0) return -1;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct snap_r r;
        if (snap_find(f, TAG_HART, i, &r) < 0) {
            snprintf(err, errlen, "corrupt snapshot: hart %u missing", i);
            return -1;
        }
        if (load_hart(vm, i, &r) < 0) {
            snprintf(err, errlen, "corrupt snapshot: %s", r.err);
            return -1;
        }
    }
    struct snap_r extra;
    if (snap_find(f, TAG_DEV, vm->bus.n_mmio, &extra) == 0) {
        snprintf(err, errlen, "the snapshot has more devices than this machine (%u)",
                 vm->bus.n_mmio);
        return -1;
    }
    if (load_rom(vm, f, err, errlen) < 0) return -1;
    /* RAM before the devices: virtio queues point into it. (A migration
     * has filled it already.) */
    if (f->fd >= 0) {
        if (snap_map_ram(f, vm->ram, err, errlen) < 0) return -1;
        vm->ram_file = 1;
    }
    for (unsigned i = 0; i < vm->bus.n_mmio; i++)
        if (load_device(vm, i, f, err, errlen) < 0) return -1;
    return 0;
}
