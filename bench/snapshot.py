#!/usr/bin/env python3
"""Snapshot benchmark: save and restore of the demo guest (256 MiB) while
it runs a program that prints a counter without pause, on vmon and on
qemu-system-riscv64 in the same run.

vmon: the control channel's `snapshot FILE`, then `vmon run --restore FILE`.
QEMU: the monitor's `migrate "exec:cat > FILE"` (QEMU's way to write a VM
to a file; savevm needs a qcow2 disk and stores RAM inside it), then
`-incoming "exec:cat FILE"`.

Figures: time to save, snapshot size (apparent and allocated), and the
restore latency: from starting the restoring process to the guest's next
console output (the guest was printing without pause, so this is when it
runs again), the median of BENCH_RUNS runs; for vmon also its own
"restored in" figure (request to vCPUs starting). Ratios are vmon/QEMU
(below 1: vmon is faster or smaller)."""
from benchlib import control, monitor, qemu_migrate_done, wait_output
import os, statistics, subprocess, sys, tempfile, time

APPEND = "console=ttyS0 quiet guest.run=i=0;while+true;do+i=$((i-~0));echo+c$i;done"

def first_output(cmd):
    """Seconds from starting cmd to its first console byte after the
    restore; and its stderr."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    got = p.stdout.read(1)
    t = time.monotonic() - t0
    p.kill()
    _, err = p.communicate()
    if not got:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"bench-snapshot: {cmd[0]} printed nothing after the restore")
    return t, err.decode(errors="replace")

def sizes(path):
    st = os.stat(path)
    return st.st_size, st.st_blocks * 512

def vmon_bench(vmon, kernel, initrd, tmp, runs):
    snap, ctl, out = f"{tmp}/vmon.snap", f"{tmp}/vmon.ctl", f"{tmp}/vmon.out"
    p = subprocess.Popen([vmon, "run", "--kernel", kernel, "--initrd", initrd, "--mem", "256M",
                          "--control", ctl, "--console", out, "--timeout", "300",
                          "--append", APPEND], stdin=subprocess.DEVNULL)
    if not wait_output(out, b"c2000", 120):
        raise SystemExit("bench-snapshot: vmon guest did not start")
    t0 = time.monotonic()
    r = control(ctl, f"snapshot {snap}")
    t_save = time.monotonic() - t0
    p.kill()
    p.wait()
    if not r.startswith("ok"):
        raise SystemExit(f"bench-snapshot: vmon snapshot: {r}")
    lat, own = [], []
    for _ in range(runs):
        t, err = first_output([vmon, "run", "--restore", snap, "-v", "--timeout", "30"])
        lat.append(t)
        for line in err.splitlines():
            if "restored from" in line:
                own.append(float(line.split(" in ")[-1].split()[0]) / 1000)
    return t_save, sizes(snap), statistics.median(lat), statistics.median(own) if own else 0

def qemu_cmd(kernel, initrd):
    return ["qemu-system-riscv64", "-machine", "virt", "-m", "256M", "-nographic",
            "-kernel", kernel, "-initrd", initrd, "-append", APPEND]

def qemu_bench(kernel, initrd, tmp, runs):
    snap, mon, out = f"{tmp}/qemu.snap", f"{tmp}/qemu.mon", f"{tmp}/qemu.out"
    p = subprocess.Popen(qemu_cmd(kernel, initrd) + ["-monitor", f"unix:{mon},server,nowait",
                                                     "-serial", f"file:{out}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if not wait_output(out, b"c2000", 120):
        raise SystemExit("bench-snapshot: QEMU guest did not start")
    t0 = time.monotonic()
    monitor(mon, f'migrate "exec:cat > {snap}"')
    if "completed" not in qemu_migrate_done(mon):
        raise SystemExit("bench-snapshot: QEMU migration to a file did not complete")
    t_save = time.monotonic() - t0
    p.kill()
    p.wait()
    lat = []
    for _ in range(runs):
        cmd = qemu_cmd(kernel, initrd) + ["-serial", "stdio", "-monitor", "none",
                                          "-incoming", f"exec:cat {snap}"]
        cmd.remove("-nographic")
        cmd += ["-display", "none"]
        lat.append(first_output(cmd)[0])
    return t_save, sizes(snap), statistics.median(lat)

def main():
    vmon, kernel, initrd = sys.argv[1:4]
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    with tempfile.TemporaryDirectory() as tmp:
        vs, (vsz, vblk), vlat, vown = vmon_bench(vmon, kernel, initrd, tmp, runs)
        qs, (qsz, qblk), qlat = qemu_bench(kernel, initrd, tmp, runs)
    mib = 1 << 20
    print(f"{'snapshot (256 MiB guest)':<34} {'vmon':>10} {'QEMU':>10} {'ratio':>6}")
    print(f"{'save time (ms)':<34} {vs*1e3:>10.0f} {qs*1e3:>10.0f} {vs/qs:>6.2f}")
    print(f"{'file size, apparent (MiB)':<34} {vsz/mib:>10.1f} {qsz/mib:>10.1f} {vsz/qsz:>6.2f}")
    print(f"{'file size, on disk (MiB)':<34} {vblk/mib:>10.1f} {qblk/mib:>10.1f} {vblk/qblk:>6.2f}")
    print(f"{'restore to guest output (ms)':<34} {vlat*1e3:>10.1f} {qlat*1e3:>10.1f} "
          f"{vlat/qlat:>6.3f}")
    print(f"{'vmon: request to vCPUs running (ms)':<34} {vown*1e3:>10.2f}")

if __name__ == "__main__":
    main()
