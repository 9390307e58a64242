#!/usr/bin/env python3
"""Boot benchmark: wall-clock time from start to the demo guest's
'init reached' line and to poweroff (guest.exit), for 1, 4 and 8 vCPUs, on vmon
and on qemu-system-riscv64 with the same kernel and initramfs, in one run;
also the peak resident memory of each for a 256M guest. Prints ratios
(vmon/QEMU; below 1 means vmon is faster or smaller)."""
import os, resource, subprocess, sys, time

def run(cmd, timeout=300):
    """Run cmd; return (seconds to 'init reached', seconds to exit, peak RSS kB, rc)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    t_init = None
    out = []
    for raw in p.stdout:
        line = raw.decode(errors="replace")
        out.append(line)
        if t_init is None and "guest: init reached" in line:
            t_init = time.monotonic() - t0
    _, status, ru = os.wait4(p.pid, 0)
    t_exit = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    if t_init is None or rc != 0:
        sys.stderr.write("".join(out[-20:]))
        raise SystemExit(f"bench-boot: {cmd[0]} failed (exit {rc})")
    return t_init, t_exit, ru.ru_maxrss

def main():
    vmon, kernel, initrd = sys.argv[1:4]
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    append = "console=ttyS0 guest.exit"
    print(f"{'boot':<10} {'vmon init':>10} {'QEMU init':>10} {'ratio':>6}"
          f" {'vmon off':>9} {'QEMU off':>9} {'ratio':>6} {'vmon RSS':>10} {'QEMU RSS':>10} {'ratio':>6}")
    for cpus in (1, 4, 8):
        res = {"vmon": [], "qemu": []}
        for _ in range(runs):
            res["vmon"].append(run([vmon, "run", "--kernel", kernel, "--initrd", initrd,
                                    "--mem", "256M", "--cpus", str(cpus), "--timeout", "240",
                                    "--append", append]))
            res["qemu"].append(run(["qemu-system-riscv64", "-M", "virt", "-nographic",
                                    "-m", "256M", "-smp", str(cpus), "-kernel", kernel,
                                    "-initrd", initrd, "-append", append]))
        best = {k: (min(r[0] for r in v), min(r[1] for r in v), max(r[2] for r in v))
                for k, v in res.items()}
        v, q = best["vmon"], best["qemu"]
        print(f"{str(cpus) + ' vCPU':<10} {v[0]:>9.2f}s {q[0]:>9.2f}s {v[0]/q[0]:>6.2f}"
              f" {v[1]:>8.2f}s {q[1]:>8.2f}s {v[1]/q[1]:>6.2f}"
              f" {v[2]/1024:>8.1f}MB {q[2]/1024:>8.1f}MB {v[2]/q[2]:>6.2f}")

if __name__ == "__main__":
    main()
