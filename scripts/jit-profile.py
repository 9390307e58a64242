#!/usr/bin/env python3
"""Where translated code spends its time: runs a vmon command under perf,
then charges the samples that fall in the code cache (a memfd mapping, so
perf shows offsets) to the guest blocks there (VMON_JIT_MAP) and, with
--elf, to the guest's functions. Samples in vmon's own functions are listed
as perf names them.

    scripts/jit-profile.py [--elf GUEST.elf] [--top N] -- build/vmon run ...
"""
import argparse, bisect, collections, os, subprocess, sys, tempfile

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elf")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    tmp = tempfile.mkdtemp()
    mapf, data = os.path.join(tmp, "map"), os.path.join(tmp, "perf.data")
    env = dict(os.environ, VMON_JIT_MAP=mapf)
    subprocess.run(["perf", "record", "-q", "-o", data, "--"] + cmd, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso"],
                         capture_output=True, text=True).stdout
    blocks = []  # (offset, size, pa, cold): the last translation at an offset wins
    for line in open(mapf):
        f = line.split()
        blocks.append((int(f[0], 16), int(f[1], 16), int(f[2], 16), ""))
        if len(f) >= 6 and int(f[5], 16):  # its out-of-line code
            blocks.append((int(f[4], 16), int(f[5], 16), int(f[2], 16), " cold"))
    starts = sorted({b[0]: b for b in blocks}.values())
    keys = [b[0] for b in starts]
    syms = []
    if a.elf:
        nm = subprocess.run(["riscv64-unknown-elf-nm", "-n", a.elf], capture_output=True,
                            text=True).stdout
        for l in nm.splitlines():
            p = l.split()
            if len(p) == 3 and p[1] in "tTwW":
                syms.append((int(p[0], 16), p[2]))
    skeys = [s[0] for s in syms]
    where, total = collections.Counter(), 0
    for l in out.splitlines():
        p = l.split()
        if not p:
            continue
        total += 1
        if "vmon-jit" in l:
            off = int(p[0], 16)
            i = bisect.bisect_right(keys, off) - 1
            if i < 0 or off >= starts[i][0] + starts[i][1]:
                where["[jit: trampoline/lookup]"] += 1
                continue
            pa = starts[i][2]
            name = "block %x%s" % (pa, starts[i][3])
            if syms:
                j = bisect.bisect_right(skeys, pa) - 1
                if j >= 0:
                    name = "%s+%#x (block %x%s)" % (syms[j][1], pa - syms[j][0], pa, starts[i][3])
            where["[jit] " + name] += 1
        else:
            where[" ".join(p[1:-1]) or p[0]] += 1
    for name, n in where.most_common(a.top):
        print("%6.2f%%  %s" % (100.0 * n / max(total, 1), name))

if __name__ == "__main__":
    main()
