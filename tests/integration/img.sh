#!/bin/bash
# vmon img convert, resize, check and info --output=json, checked against
# qemu-img (the reference for the qcow2 format): round trips keep every
# byte, convert skips zeros (compaction), a qcow2 grows past its L1 table,
# leaks are found and repaired as qemu-img sees them, bad requests change
# nothing.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=$(realpath "${VMON:-build/vmon}")
t() { # name, command... (must succeed)
    local name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name"; fi
}
img() { "$VMON" img "$@"; }
cd "$tmp"

# A 16 MiB disk with data in two places and zeros elsewhere.
head -c 3M /dev/urandom >r.img
truncate -s 16M r.img
dd if=/dev/urandom of=r.img bs=1M seek=10 count=1 conv=notrunc status=none
t "convert raw -> qcow2" img convert -O qcow2 r.img c.qcow2
t "qemu-img check: the converted qcow2 is clean" qemu-img check c.qcow2
t "convert qcow2 -> raw" img convert c.qcow2 back.raw
t "round trip keeps every byte" cmp r.img back.raw
sz=$(stat -c %s c.qcow2)
[ "$sz" -lt $((6 << 20)) ] && ok "zeros are not copied (qcow2 is $sz bytes for 4 MiB of data)" ||
    bad "qcow2 is $sz bytes"
[ "$(du -k back.raw | cut -f1)" -lt 8000 ] && ok "raw output stays sparse" || bad "raw output not sparse"
# an overlay converts to a standalone image with the merged contents
qemu-img create -q -f qcow2 -b r.img -F raw ov.qcow2
qemu-io -c "write -P 0x42 5M 64k" ov.qcow2 >/dev/null
t "convert an overlay" img convert -O qcow2 ov.qcow2 flat.qcow2
qemu-img info flat.qcow2 | grep -q "backing file" && bad "flat image still has a backing file" ||
    ok "the converted overlay stands alone"
t "the overlay's data and its base's both survive" qemu-img compare ov.qcow2 flat.qcow2
echo keep >exists.img
cp exists.img exists.orig
img convert r.img exists.img >"$tmp/out" 2>&1
[ $? -eq 1 ] && cmp -s exists.img exists.orig && ok "convert onto an existing file: refused, file unchanged" ||
    bad "convert onto an existing file"
img convert nonexistent.img x.img >"$tmp/out" 2>&1
[ $? -eq 1 ] && [ ! -e x.img ] && ok "convert of a missing source: error, nothing created" || bad "missing source"

# info --output=json
img info --output=json c.qcow2 >info.json
if python3 -c 'import json,sys; d=json.load(open("info.json")); sys.exit(not(d["format"]=="qcow2" and d["virtual-size"]==16<<20 and d["cluster-size"]==65536 and d["format-specific"]["data"]["compat"]=="1.1"))'; then
    ok "info --output=json: format, virtual-size, cluster-size, compat"
else
    bad "info json"
    cat info.json
fi
img info --output=json ov.qcow2 | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["backing-filename"]!="r.img")' &&
    ok "info --output=json: backing file" || bad "info json backing"
img info --output=xml c.qcow2 >"$tmp/out" 2>&1
[ $? -eq 2 ] && ok "info --output=xml is a usage error" || bad "info --output=xml"

# resize
cp r.img g.img
t "raw grows (+16M)" img resize g.img +16M
[ "$(stat -c %s g.img)" -eq $((32 << 20)) ] && cmp -n $((16 << 20)) g.img r.img && ok "grown raw keeps its data" || bad "grown raw"
img resize g.img 8M >"$tmp/out" 2>&1
[ $? -eq 1 ] && [ "$(stat -c %s g.img)" -eq $((32 << 20)) ] && ok "raw shrink needs --shrink (file unchanged)" || bad "raw shrink without --shrink"
t "raw shrinks with --shrink" img resize --shrink g.img -24M
[ "$(stat -c %s g.img)" -eq $((8 << 20)) ] && ok "shrunk raw is 8 MiB" || bad "shrunk raw size"
qemu-img create -q -f qcow2 -o cluster_size=512 s.qcow2 1M
qemu-io -c "write -P 0x5a 0 64k" -c "write -P 0x33 900k 64k" s.qcow2 >/dev/null
t "qcow2 grows past its L1 table (1M -> 64M, 512-byte clusters)" img resize s.qcow2 64M
t "qemu-img check: the grown qcow2 is clean" qemu-img check s.qcow2
qemu-img info s.qcow2 | grep -q "(67108864 bytes)" && ok "qemu-img sees 64 MiB" || bad "qemu-img size"
t "old data intact, new space writable" qemu-io -c "read -P 0x5a 0 64k" -c "read -P 0x33 900k 64k" \
    -c "write -P 0x77 60M 4k" -c "read -P 0x77 60M 4k" s.qcow2
cp s.qcow2 s.orig
img resize s.qcow2 32M >"$tmp/out" 2>&1
[ $? -eq 1 ] && cmp -s s.qcow2 s.orig && grep -q "only grow" "$tmp/out" && ok "qcow2 shrink refused, image unchanged" || bad "qcow2 shrink"
img resize s.qcow2 banana >"$tmp/out" 2>&1
[ $? -eq 2 ] && ok "resize with a bad size is a usage error" || bad "resize bad size"

# check: leaked clusters (refcount 1, no reference) past the data
cp c.qcow2 leak.qcow2
python3 - leak.qcow2 <<'PY'
import os, struct, sys
p = sys.argv[1]
f = open(p, "r+b")
h = f.read(104)
cs = 1 << struct.unpack(">I", h[20:24])[0]
rt = struct.unpack(">Q", h[48:56])[0]
f.seek(rt)
rb = struct.unpack(">Q", f.read(8))[0]
n = (os.path.getsize(p) + cs - 1) // cs
for k in (n, n + 1):
    f.seek(rb + 2 * k)
    f.write(struct.pack(">H", 1))
f.truncate((n + 2) * cs)
PY
img check c.qcow2 >"$tmp/out" 2>&1
[ $? -eq 0 ] && grep -q "No errors" "$tmp/out" && ok "check: a clean image (status 0)" || bad "check clean"
qemu-img check leak.qcow2 2>&1 | grep -q "2 leaked clusters" && ok "qemu-img sees the 2 leaks" || bad "qemu-img leak setup"
img check leak.qcow2 >"$tmp/out" 2>&1
[ $? -eq 3 ] && grep -q "2 leaked clusters" "$tmp/out" && ok "check finds the 2 leaks (status 3)" || bad "check leaks"
t "check -r leaks repairs them" img check -r leaks leak.qcow2
qemu-img check leak.qcow2 >"$tmp/out" 2>&1 && grep -q "No errors" "$tmp/out" && ok "qemu-img: clean after the repair" || bad "qemu-img after repair"
img convert leak.qcow2 l.raw && cmp -s l.raw r.img && ok "the repair kept the data" || bad "data after repair"
# a refcount too low is an error, reported, not "repaired"
cp c.qcow2 low.qcow2
python3 - low.qcow2 <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
h = f.read(104)
rt = struct.unpack(">Q", h[48:56])[0]
f.seek(rt)
rb = struct.unpack(">Q", f.read(8))[0]
f.seek(rb + 2 * 0)  # the header cluster's refcount -> 0
f.write(struct.pack(">H", 0))
PY
img check low.qcow2 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "ERROR cluster 0 refcount=0 reference=1" "$tmp/out" && ok "check reports a refcount below its references (status 2)" || bad "check low refcount"
img check r.img >"$tmp/out" 2>&1
[ $? -eq 0 ] && grep -q "no metadata" "$tmp/out" && ok "check on raw: nothing to check" || bad "check raw"
img check -r sideways c.qcow2 >"$tmp/out" 2>&1
[ $? -eq 2 ] && ok "check -r with a bad mode is a usage error" || bad "check -r bad"

report img
