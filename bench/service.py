#!/usr/bin/env python3
"""The host service's figures (make bench-service), on one `vmon serve`:

- create -> 'init reached': a demo VM defined and started through the API
  (PUT /v1/vms/NAME, PUT .../start) until its console shows init, against
  QEMU started from its command line to the same line;
- API latency: GET /v1/vms/NAME and GET /v1/metrics, BENCH_API_N (default
  300) each, median and 99th percentile, against QEMU's QMP query-status
  on its socket (the nearest thing QEMU has);
- density: BENCH_IDLE (default 8) idle demo VMs of 128 MiB: memory per VM
  (PSS), how many such VMs the host's memory holds (MemTotal / PSS), and
  host CPU per idle VM over 10 s, against as many idle QEMUs;
- the scheduler (vmon only; QEMU leaves it to the host): three busy
  1-vCPU VMs with weights 1:2:4 on the service's 2 CPUs, measured shares
  against weighted max-min fairness (the heaviest gets its one CPU, the
  others split the rest 1:2), and a busy VM capped at 25% against its cap;
  errors in percentage points of one CPU."""
from benchlib import api, pss_kib, wait_output
import json, os, socket, statistics, subprocess, sys, tempfile, time

IDLE = "console=ttyS0 quiet guest.run=echo+bench-up;while+true;do+sleep+1;done"
BUSY = "console=ttyS0 quiet guest.run=echo+bench-up;while+true;do+:;done"

def cpu_secs(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

def define(sock, name, kernel, initrd, mem, append, **extra):
    body = {"kernel": kernel, "initrd": initrd, "mem": mem, "append": append}
    body.update(extra)
    api(sock, f"/v1/vms/{name}", "PUT", body)
    api(sock, f"/v1/vms/{name}/actions/start", "PUT")

def wait_up(state, name, needle=b"init reached", secs=300):
    if not wait_output(f"{state}/logs/{name}.console.log", needle, secs):
        raise SystemExit(f"bench-service: VM {name} did not come up")

class Service:
    def __init__(self, vmon, tmp):
        self.sock, self.state = f"{tmp}/svc.sock", f"{tmp}/state"
        self.p = subprocess.Popen([vmon, "serve", "--socket", self.sock, "--state", self.state],
                                  stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.sock):
                break
            time.sleep(0.1)

    def remove_all(self):
        for vm in (api(self.sock, "/v1/vms") or {}).get("vms", []):
            api(self.sock, f"/v1/vms/{vm['name']}/actions/stop", "PUT")
            api(self.sock, f"/v1/vms/{vm['name']}", "DELETE")

    def close(self):
        self.p.terminate()
        self.p.wait()

def qemu(kernel, initrd, mem, append, out, extra=()):
    return subprocess.Popen(["qemu-system-riscv64", "-M", "virt", "-m", mem, "-display", "none",
                             "-kernel", kernel, "-initrd", initrd, "-append", append,
                             "-serial", f"file:{out}", "-monitor", "none", *extra],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

def latency(call, n):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return statistics.median(ts), ts[int(0.99 * (len(ts) - 1))]

def qmp_session(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    f.readline()  # greeting
    f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
    f.flush()
    f.readline()
    def query():
        f.write(json.dumps({"execute": "query-status"}) + "\n")
        f.flush()
        while "return" not in f.readline():
            pass
    return s, query

def bench_start_and_api(svc, kernel, initrd, tmp, n):
    t0 = time.monotonic()
    define(svc.sock, "lat", kernel, initrd, "256M", "console=ttyS0 quiet")
    wait_up(svc.state, "lat")
    v_boot = time.monotonic() - t0
    v_vm = latency(lambda: api(svc.sock, "/v1/vms/lat"), n)
    v_metrics = latency(lambda: api(svc.sock, "/v1/metrics"), n)
    svc.remove_all()
    qmp = f"{tmp}/q.qmp"
    t0 = time.monotonic()
    p = qemu(kernel, initrd, "256M", "console=ttyS0 quiet", f"{tmp}/lat.out",
             ["-qmp", f"unix:{qmp},server,nowait"])
    if not wait_output(f"{tmp}/lat.out", b"init reached", 300):
        raise SystemExit("bench-service: QEMU did not come up")
    q_boot = time.monotonic() - t0
    s, query = qmp_session(qmp)
    q_status = latency(query, n)
    s.close()
    p.kill()
    p.wait()
    return v_boot, q_boot, v_vm, v_metrics, q_status

def bench_density(svc, kernel, initrd, tmp, n):
    for i in range(n):
        define(svc.sock, f"idle{i}", kernel, initrd, "128M", IDLE)
    for i in range(n):
        wait_up(svc.state, f"idle{i}", b"bench-up")
    time.sleep(5)
    pids = [api(svc.sock, f"/v1/vms/idle{i}")["pid"] for i in range(n)]
    c0 = [cpu_secs(p) for p in pids]
    time.sleep(10)
    v_cpu = sum(cpu_secs(p) - c for p, c in zip(pids, c0)) / n / 10 * 100
    v_pss = sum(pss_kib(p) for p in pids) / n / 1024
    svc.remove_all()
    procs = [qemu(kernel, initrd, "128M", IDLE, f"{tmp}/idle{i}.out") for i in range(n)]
    try:
        for i in range(n):
            if not wait_output(f"{tmp}/idle{i}.out", b"bench-up", 300):
                raise SystemExit("bench-service: an idle QEMU did not come up")
        time.sleep(5)
        c0 = [cpu_secs(p.pid) for p in procs]
        time.sleep(10)
        q_cpu = sum(cpu_secs(p.pid) - c for p, c in zip(procs, c0)) / n / 10 * 100
        q_pss = sum(pss_kib(p.pid) for p in procs) / n / 1024
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return v_pss, q_pss, v_cpu, q_cpu

def shares(svc, names, secs=15):
    pids = {n: api(svc.sock, f"/v1/vms/{n}")["pid"] for n in names}
    c0 = {n: cpu_secs(p) for n, p in pids.items()}
    t0 = time.monotonic()
    time.sleep(secs)
    dt = time.monotonic() - t0
    return {n: (cpu_secs(p) - c0[n]) / dt * 100 for n, p in pids.items()}

def bench_scheduler(svc, kernel, initrd):
    for name, w in (("w1", 1), ("w2", 2), ("w4", 4)):
        define(svc.sock, name, kernel, initrd, "128M", BUSY, weight=w * 100)
    for name in ("w1", "w2", "w4"):
        wait_up(svc.state, name, b"bench-up")
    time.sleep(5)
    got = shares(svc, ("w1", "w2", "w4"))
    want = {"w1": 100 / 3, "w2": 200 / 3, "w4": 100.0}
    fair_err = max(abs(got[n] - want[n]) for n in want)
    svc.remove_all()
    define(svc.sock, "cap", kernel, initrd, "128M", BUSY, cap=25)
    wait_up(svc.state, "cap", b"bench-up")
    time.sleep(5)
    cap = shares(svc, ("cap",))["cap"]
    svc.remove_all()
    return got, want, fair_err, cap

def main():
    vmon, kernel, initrd = sys.argv[1:4]
    n_api = int(os.environ.get("BENCH_API_N", "300"))
    n_idle = int(os.environ.get("BENCH_IDLE", "8"))
    with tempfile.TemporaryDirectory() as tmp:
        svc = Service(vmon, tmp)
        try:
            v_boot, q_boot, v_vm, v_met, q_st = bench_start_and_api(svc, kernel, initrd, tmp, n_api)
            v_pss, q_pss, v_cpu, q_cpu = bench_density(svc, kernel, initrd, tmp, n_idle)
            got, want, fair_err, cap = bench_scheduler(svc, kernel, initrd)
        finally:
            svc.close()
    print(f"{'vmon serve':<44} {'vmon':>10} {'QEMU':>10} {'ratio':>6}")
    print(f"{'create+start -> init reached (s)':<44} {v_boot:>10.2f} {q_boot:>10.2f} "
          f"{v_boot / q_boot:>6.2f}")
    print(f"{'API GET /v1/vms/NAME, median / p99 (ms)':<44} {v_vm[0]:>5.2f}/{v_vm[1]:<4.2f} "
          f"{q_st[0]:>5.2f}/{q_st[1]:<4.2f} {v_vm[0] / q_st[0]:>6.2f}")
    print(f"{'API GET /v1/metrics, median / p99 (ms)':<44} {v_met[0]:>5.2f}/{v_met[1]:<4.2f}"
          f" {'(QEMU: QMP query-status)':>16}")
    print(f"{f'{n_idle} idle VMs of 128 MiB: PSS per VM (MiB)':<44} {v_pss:>10.1f} {q_pss:>10.1f} "
          f"{v_pss / q_pss:>6.2f}")
    print(f"{'  host CPU per idle VM (% of one CPU)':<44} {v_cpu:>10.2f} {q_cpu:>10.2f} "
          f"{v_cpu / q_cpu if q_cpu else 0:>6.2f}")
    with open("/proc/meminfo") as f:
        total_mib = int(f.readline().split()[1]) / 1024
    print(f"{'  such VMs this host holds (MemTotal / PSS)':<44} {total_mib / v_pss:>10.0f} "
          f"{total_mib / q_pss:>10.0f} {q_pss / v_pss:>5.2f}x")
    print("scheduler (vmon): weights 1:2:4, 3 busy VMs on 2 CPUs, % of one CPU: "
          + ", ".join(f"{n} {got[n]:.1f} (target {want[n]:.1f})" for n in want)
          + f"; fairness error {fair_err:.1f} points")
    print(f"scheduler (vmon): a busy VM capped at 25%: {cap:.1f}% (error {abs(cap - 25):.1f} points)")

if __name__ == "__main__":
    main()
