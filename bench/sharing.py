#!/usr/bin/env python3
"""Page sharing between VMs: BENCH_SHARE_VMS (default 10) demo VMs (256 MiB,
each booted on its own, idle in a shell loop) under one `vmon serve`, with
share_pages and without, and the same number of qemu-system-riscv64 VMs.
Once they run and sharing has settled (the pool stops growing, or 90 s),
the memory they cost the host: each worker's proportional share (PSS,
from /proc/PID/smaps, leaving out its mapping of the pool) plus the
pool's own pages split among them. Printed: the sharing ratio (guest pages
that map a pool page, per pool page), the memory sharing saves, and memory
per VM for vmon with and without sharing and for QEMU, as ratios.

QEMU has no sharing of its own: it leaves it to the host kernel's KSM
(-machine mem-merge=on, the default, marks guest RAM mergeable), which
runs only where /sys/kernel/mm/ksm/run is 1; the state found is printed,
and the benchmark does not change it."""
from benchlib import api, pss_kib, wait_output
import os, subprocess, sys, tempfile, time

APPEND = "console=ttyS0 quiet guest.run=echo+bench-up;while+true;do+sleep+1;done"

def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)

def vmon_round(vmon, kernel, initrd, tmp, n, share):
    sock, state = f"{tmp}/s{share}.sock", f"{tmp}/state{share}"
    env = dict(os.environ, VMON_SOCKET=sock)
    svc = subprocess.Popen([vmon, "serve", "--socket", sock, "--state", state, "--share-rate",
                            "65536"], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        t0 = time.monotonic()
        for i in range(n):
            opts = ["--share-pages"] if share else []
            run([vmon, "create", f"v{i}", "--kernel", kernel, "--initrd", initrd, "--mem", "256M",
                 "--append", APPEND] + opts, env=env, check=True)
            run([vmon, "start", f"v{i}"], env=env, check=True)
        for i in range(n):
            if not wait_output(f"{state}/logs/v{i}.console.log", b"bench-up", 300):
                raise SystemExit(f"bench-sharing: VM v{i} did not come up")
        boot = time.monotonic() - t0
        sharing, last, end = None, -1, time.monotonic() + 90
        while share and time.monotonic() < end:
            time.sleep(3)
            sharing = api(sock, "/v1/metrics")["memory"]["sharing"]
            if sharing["guest_pages"] == last:
                break
            last = sharing["guest_pages"]
        time.sleep(3)
        pids = [api(sock, f"/v1/vms/v{i}")["pid"] for i in range(n)]
        sharing = api(sock, "/v1/metrics")["memory"]["sharing"] if share else None
        pool = sharing["pool_pages"] * 4 if share else 0
        total = sum(pss_kib(p) for p in pids) + pool
        return total / n, sharing, boot
    finally:
        svc.terminate()
        svc.wait()

def qemu_round(kernel, initrd, tmp, n):
    procs = []
    try:
        for i in range(n):
            out = f"{tmp}/q{i}.out"
            procs.append(subprocess.Popen(
                ["qemu-system-riscv64", "-machine", "virt", "-m", "256M", "-display", "none",
                 "-kernel", kernel, "-initrd", initrd, "-append", APPEND, "-serial",
                 f"file:{out}", "-monitor", "none"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for i in range(n):
            if not wait_output(f"{tmp}/q{i}.out", b"bench-up", 300):
                raise SystemExit(f"bench-sharing: QEMU VM {i} did not come up")
        time.sleep(10)
        return sum(pss_kib(p.pid) for p in procs) / n
    finally:
        for p in procs:
            p.kill()
            p.wait()

def main():
    vmon, kernel, initrd = sys.argv[1:4]
    n = int(os.environ.get("BENCH_SHARE_VMS", "10"))
    try:
        with open("/sys/kernel/mm/ksm/run") as f:
            ksm = f.read().strip()
    except OSError:
        ksm = "absent"
    with tempfile.TemporaryDirectory() as tmp:
        shared, st, boot_s = vmon_round(vmon, kernel, initrd, tmp, n, 1)
        plain, _, boot_p = vmon_round(vmon, kernel, initrd, tmp, n, 0)
        qemu = qemu_round(kernel, initrd, tmp, n)
    ratio = st["guest_pages"] / st["pool_pages"] if st["pool_pages"] else 0
    print(f"{n} demo VMs of 256 MiB, each booted on its own (host KSM run={ksm})")
    print(f"sharing: {st['guest_pages']} guest pages map {st['pool_pages']} pool pages "
          f"(ratio {ratio:.1f}), {st['zero_pages']} zero pages; "
          f"{st['saved'] / 2**20:.1f} MiB saved in all")
    print(f"boot of the {n}: {boot_s:.1f} s with sharing, {boot_p:.1f} s without")
    print(f"{'host memory per VM (MiB, PSS)':<36} {'MiB':>8} {'vs QEMU':>8}")
    for name, v in (("vmon, share_pages", shared), ("vmon, no sharing", plain), ("QEMU", qemu)):
        print(f"{name:<36} {v / 1024:>8.1f} {v / qemu:>8.2f}")
    print(f"sharing saves {(plain - shared) / 1024:.1f} MiB per VM "
          f"({100 * (plain - shared) / plain:.0f}% of vmon's own cost)")

if __name__ == "__main__":
    main()
