#!/usr/bin/env python3
"""Clone density: BENCH_CLONES (default 10) VMs restored at once from one
snapshot of the booted demo guest (256 MiB, idle in its shell loop), on
vmon (vmon run --restore: RAM mapped copy-on-write from the one file) and
on qemu-system-riscv64 (-incoming "exec:cat FILE" of a migration file,
QEMU's way to start from a saved VM). Figures per VM, once all run and
have settled: resident memory (RSS), proportional share (PSS: shared pages
split between their users) and private memory, from /proc/PID/smaps_rollup;
and how many such VMs the host's memory would hold by private+shared cost
(MemTotal / PSS). Ratios vmon/QEMU (below 1: vmon uses less)."""
from benchlib import control, monitor, qemu_migrate_done, rollup, wait_output
import os, subprocess, sys, tempfile, time

APPEND = "console=ttyS0 quiet guest.run=while+true;do+sleep+1;done"

def measure(procs):
    time.sleep(float(os.environ.get("BENCH_SETTLE", "5")))
    rows = [rollup(p.pid) for p in procs]
    n = len(rows)
    return tuple(sum(r[i] for r in rows) / n for i in range(3))

def vmon_snapshot(vmon, kernel, initrd, tmp):
    out, ctl, snap = f"{tmp}/v.out", f"{tmp}/v.ctl", f"{tmp}/v.snap"
    p = subprocess.Popen([vmon, "run", "--kernel", kernel, "--initrd", initrd, "--mem", "256M",
                          "--control", ctl, "--console", out, "--append", APPEND],
                         stdin=subprocess.DEVNULL)
    if not wait_output(out, b"guest: running", 120):
        raise SystemExit("bench-clones: vmon guest did not start")
    time.sleep(2)
    r = control(ctl, f"snapshot {snap}")
    p.kill()
    p.wait()
    if not r.startswith("ok"):
        raise SystemExit(f"bench-clones: {r}")
    return snap

def qemu_cmd(kernel, initrd):
    return ["qemu-system-riscv64", "-machine", "virt", "-m", "256M", "-display", "none",
            "-kernel", kernel, "-initrd", initrd, "-append", APPEND]

def qemu_snapshot(kernel, initrd, tmp):
    out, mon, snap = f"{tmp}/q.out", f"{tmp}/q.mon", f"{tmp}/q.snap"
    p = subprocess.Popen(qemu_cmd(kernel, initrd) + ["-serial", f"file:{out}", "-monitor",
                                                     f"unix:{mon},server,nowait"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if not wait_output(out, b"guest: running", 120):
        raise SystemExit("bench-clones: QEMU guest did not start")
    time.sleep(2)
    monitor(mon, f'migrate "exec:cat > {snap}"')
    qemu_migrate_done(mon)
    p.kill()
    p.wait()
    return snap

def start_all(cmds):
    return [subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for c in cmds]

def main():
    vmon, kernel, initrd = sys.argv[1:4]
    n = int(os.environ.get("BENCH_CLONES", "10"))
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1])
    with tempfile.TemporaryDirectory() as tmp:
        vs = vmon_snapshot(vmon, kernel, initrd, tmp)
        procs = start_all([[vmon, "run", "--restore", vs, "--console", "none"] for _ in range(n)])
        v = measure(procs)
        for p in procs:
            p.kill()
            p.wait()
        qs = qemu_snapshot(kernel, initrd, tmp)
        cmd = qemu_cmd(kernel, initrd) + ["-serial", "null", "-monitor", "none",
                                          "-incoming", f"exec:cat {qs}"]
        procs = start_all([cmd] * n)
        q = measure(procs)
        for p in procs:
            p.kill()
            p.wait()
    print(f"{n} clones of a 256 MiB demo VM    {'vmon':>10} {'QEMU':>10} {'ratio':>6}")
    for i, name in enumerate(("RSS per VM (MiB)", "PSS per VM (MiB)", "private per VM (MiB)")):
        print(f"{name:<33} {v[i]/1024:>10.1f} {q[i]/1024:>10.1f} {v[i]/q[i]:>6.2f}")
    print(f"{'VMs this host holds (MemTotal/PSS)':<33} {total/v[1]:>10.0f} {total/q[1]:>10.0f}"
          f" {q[1]/v[1]:>6.2f}x")

if __name__ == "__main__":
    main()
