#!/usr/bin/env python3
"""Make a symbol file gdb can use for a RISC-V Linux kernel that came
without its vmlinux: the Image's bytes as .text at the kernel's virtual base
with every text symbol of /proc/kallsyms (as the running guest prints it) as
a function. `file OUT` in gdb then gives `break NAME`, `bt` and disassembly.
Needs riscv64-unknown-elf-as and -ld (binutils-riscv64-unknown-elf).

usage: kallsyms2elf.py KALLSYMS IMAGE OUT [--base 0xffffffff80000000]"""
import argparse, os, subprocess, sys, tempfile

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("kallsyms")
ap.add_argument("image")
ap.add_argument("out")
ap.add_argument("--base", default="0xffffffff80000000", help="virtual address of the Image's first byte")
ap.add_argument("--cross", default="riscv64-unknown-elf-", help="binutils prefix")
a = ap.parse_args()
base = int(a.base, 0)
size = os.path.getsize(a.image)
lines = ['.section .text,"ax",@progbits', "_kbase:", '.incbin "%s"' % os.path.abspath(a.image)]
n = 0
for line in open(a.kallsyms, errors="replace"):
    p = line.replace("\r", "").split()
    if len(p) < 3 or p[1] not in ("t", "T"):
        continue
    try:
        off = int(p[0], 16) - base
    except ValueError:
        continue
    name = p[2]
    if not (0 <= off < size) or not all(c.isalnum() or c in "_." for c in name):
        continue
    lines += [".globl %s" % name, ".type %s, @function" % name, ".set %s, _kbase + 0x%x" % (name, off)]
    n += 1
if not n:
    sys.exit("kallsyms2elf: no text symbols of %s fall inside %s" % (a.kallsyms, a.image))
with tempfile.TemporaryDirectory() as d:
    src, obj = os.path.join(d, "k.S"), os.path.join(d, "k.o")
    open(src, "w").write("\n".join(lines) + "\n")
    subprocess.run([a.cross + "as", "-o", obj, src], check=True)
    subprocess.run([a.cross + "ld", "-Ttext=0x%x" % base, "-e", "0", "-o", a.out, obj], check=True)
print("kallsyms2elf: %s: %d functions" % (a.out, n))
