#!/usr/bin/env python3
"""Live migration benchmark: the demo guest (256 MiB) moved between two
processes on this machine over a unix socket, idle and busy (rewriting
8 MiB of tmpfs without pause), on vmon (the control channel's migrate,
vmon run --incoming) and on qemu-system-riscv64 (HMP migrate, -incoming),
in the same run. Figures: total migration time and downtime (the time the
guest was paused), as each reports them, the median of BENCH_RUNS runs;
ratios vmon/QEMU (below 1: vmon is faster)."""
from benchlib import control, monitor, qemu_migrate_done, wait_output
import os, re, statistics, subprocess, sys, tempfile, time

WORK = {
    "idle": "sleep+600",
    "busy": "while+true;do+dd+if=/dev/zero+of=/tmp/x+bs=1M+count=8+2>/dev/null;done",
}

def wait_socket(path, secs=30):
    end = time.monotonic() + secs
    while time.monotonic() < end and not os.path.exists(path):
        time.sleep(0.05)

def stop(*procs):
    for p in procs:
        p.kill()
        p.wait()

def vmon_once(vmon, kernel, initrd, work, tmp):
    out, ctl, sock = f"{tmp}/v.out", f"{tmp}/v.ctl", f"{tmp}/v.sock"
    for f in (out, ctl, sock):
        if os.path.exists(f):
            os.unlink(f)
    src = subprocess.Popen([vmon, "run", "--kernel", kernel, "--initrd", initrd, "--mem", "256M",
                            "--control", ctl, "--console", out, "--append",
                            f"console=ttyS0 guest.run={WORK[work]}"], stdin=subprocess.DEVNULL)
    dst = subprocess.Popen([vmon, "run", "--incoming", f"unix:{sock}", "--console", "none"],
                           stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_output(out, b"guest: running", 120):
        raise SystemExit("bench-migrate: vmon guest did not start")
    time.sleep(2)
    wait_socket(sock)
    r = control(ctl, f"migrate unix:{sock}")
    stop(src, dst)
    m = re.search(r"total ([0-9.]+) ms, downtime ([0-9.]+) ms", r)
    if not m:
        raise SystemExit(f"bench-migrate: vmon: {r}")
    return float(m.group(1)), float(m.group(2))

def qemu_cmd(kernel, initrd, work):
    return ["qemu-system-riscv64", "-machine", "virt", "-m", "256M", "-display", "none",
            "-kernel", kernel, "-initrd", initrd, "-append",
            f"console=ttyS0 guest.run={WORK[work]}"]

def qemu_once(kernel, initrd, work, tmp):
    out, mon, sock = f"{tmp}/q.out", f"{tmp}/q.mon", f"{tmp}/q.sock"
    for f in (out, mon, sock):
        if os.path.exists(f):
            os.unlink(f)
    dst = subprocess.Popen(qemu_cmd(kernel, initrd, work) + ["-serial", "null", "-monitor", "none",
                                                             "-incoming", f"unix:{sock}"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    src = subprocess.Popen(qemu_cmd(kernel, initrd, work) + ["-serial", f"file:{out}", "-monitor",
                                                             f"unix:{mon},server,nowait"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if not wait_output(out, b"guest: running", 120):
        raise SystemExit("bench-migrate: QEMU guest did not start")
    time.sleep(2)
    wait_socket(sock)
    monitor(mon, f"migrate -d unix:{sock}", 0.1)
    info = qemu_migrate_done(mon, 300)
    stop(src, dst)
    tt = re.search(r"total time: ([0-9]+) ms", info)
    dt = re.search(r"downtime: ([0-9]+) ms", info)
    if not tt or not dt:
        raise SystemExit(f"bench-migrate: QEMU: {info[-400:]}")
    return float(tt.group(1)), float(dt.group(1))

def main():
    vmon, kernel, initrd = sys.argv[1:4]
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    print(f"{'migration (256 MiB guest)':<26} {'vmon total':>11} {'QEMU total':>11} {'ratio':>6}"
          f" {'vmon down':>10} {'QEMU down':>10} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for work in ("idle", "busy"):
            v = [vmon_once(vmon, kernel, initrd, work, tmp) for _ in range(runs)]
            q = [qemu_once(kernel, initrd, work, tmp) for _ in range(runs)]
            vt, vd = statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)
            qt, qd = statistics.median(x[0] for x in q), statistics.median(x[1] for x in q)
            print(f"{work:<26} {vt:>9.0f}ms {qt:>9.0f}ms {vt/qt:>6.2f} {vd:>8.1f}ms {qd:>8.1f}ms"
                  f" {vd/max(qd, 0.1):>6.2f}")

if __name__ == "__main__":
    main()
