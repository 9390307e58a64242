#!/bin/bash
# virtio-console end to end with the demo guest. The guest kernel also has
# the SBI console, which takes /dev/hvc0, so the virtio port is /dev/hvc1.
#  - --vconsole FILE: what the guest writes to /dev/hvc1 lands in FILE,
#    which is truncated when vmon starts;
#  - console=hvc1: the kernel's messages and init's output go to FILE;
#  - --vconsole socket=PATH: a client gets the guest's output and its input
#    reaches the guest: a line read with head -n1, then 256 KiB each way in
#    raw mode with checksums (more than vmon buffers, so flow control is
#    exercised both ways);
#  - bad options: clear message, nonzero exit, before the guest runs.
set -u
VMON=${VMON:-build/vmon}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # sets KERNEL, INITRD
tmp=$(mktemp -d)
vpid=""
trap '[ -n "$vpid" ] && kill "$vpid" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && grep -v '^\[' "$2" | tail -15 | sed 's/^/    /'
}
# guest.run from a script: one command per line, no '+' and no quotes.
run_arg() { sed -e 's/^ *//' -e '/^$/d' | tr '\n' ';' | sed -e 's/;$//' -e 's/ /+/g'; }

# ---- 1. file output ----
echo "OLD-CONTENT-MUST-GO" >"$tmp/vc.out"
CMD=$(run_arg <<'EOF'
echo hello-over-virtio-console >/dev/hvc1
echo second-line >/dev/hvc1
EOF
)
timeout 60 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 40 --vconsole "$tmp/vc.out" \
    --append "console=ttyS0 guest.run=$CMD" </dev/null >"$tmp/out1" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "guest: exit status 0" "$tmp/out1" &&
    [ "$(tr -d '\r' <"$tmp/vc.out")" = "$(printf 'hello-over-virtio-console\nsecond-line')" ]; then
    ok "file: guest output on /dev/hvc1 is in FILE, old contents gone"
else
    bad "file: exit $rc, FILE has '$(head -c 200 "$tmp/vc.out")'" "$tmp/out1"
fi

# ---- 2. kernel console on hvc1 ----
timeout 60 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 40 --vconsole "$tmp/con.out" \
    --append "console=hvc1 guest.run=echo+init-output-on-hvc1" </dev/null >"$tmp/out2" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "Run /init as init process" "$tmp/con.out" &&
    grep -q "guest: init reached" "$tmp/con.out" && grep -q "^init-output-on-hvc1" "$tmp/con.out" &&
    grep -q "guest: exit status 0" "$tmp/con.out" && ! grep -q "guest: init reached" "$tmp/out2"; then
    ok "console=hvc1: kernel messages and init output go to FILE"
else
    bad "console=hvc1: exit $rc" "$tmp/con.out"
fi

# ---- 3. socket: a line, then bulk data both ways ----
SOCK=$tmp/vc.sock
N=$((256 * 1024))
CMD=$(run_arg <<EOF
exec 3<>/dev/hvc1
echo ready >&3
head -n1 <&3 >/tmp/line
echo got:\$(cat /tmp/line) >&3
echo line:\$(cat /tmp/line)
stty -F /dev/hvc1 raw -echo
echo send-bulk >&3
echo insum:\$(head -c $N <&3 | sha256sum)
dd if=/dev/urandom of=/tmp/o bs=1024 count=$((N / 1024)) 2>/dev/null
echo outsum:\$(sha256sum </tmp/o)
echo BULK >&3
cat /tmp/o >&3
EOF
)
timeout 90 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 60 --vconsole "socket=$SOCK" \
    --append "console=ttyS0 guest.run=$CMD" </dev/null >"$tmp/out3" 2>&1 &
vpid=$!
timeout 70 python3 - "$SOCK" "$N" >"$tmp/client.out" 2>&1 <<'EOF'
import hashlib, os, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
for _ in range(300):
    try:
        s.connect(path)
        break
    except OSError:
        time.sleep(0.1)
else:
    print("cannot connect"); sys.exit(1)
s.settimeout(50)
buf = b""
def until(marker):
    global buf
    while marker not in buf:
        d = s.recv(65536)
        if not d:
            raise SystemExit("eof before %r; have %r" % (marker, buf[-200:]))
        buf += d
    i = buf.index(marker) + len(marker)
    head, buf = buf[:i], buf[i:]
    return head
until(b"ready")
s.sendall(b"hello-from-the-host-client\n")
head = until(b"send-bulk\n")
print("got-line:" + ("yes" if b"got:hello-from-the-host-client" in head else "no: %r" % head))
data = os.urandom(n)
print("sent:" + hashlib.sha256(data).hexdigest())
s.sendall(data)
until(b"BULK\n")
while len(buf) < n:
    d = s.recv(65536)
    if not d:
        break
    buf += d
print("received:%d:%s" % (len(buf[:n]), hashlib.sha256(buf[:n]).hexdigest()))
EOF
crc=$?
wait "$vpid"
rc=$?
vpid=""
if grep -q "^got-line:yes" "$tmp/client.out" && grep -q "^line:hello-from-the-host-client" "$tmp/out3"; then
    ok "socket: a line from the client reaches the guest, the guest's answer reaches the client"
else
    bad "socket: line exchange (client exit $crc)" "$tmp/client.out"
    grep -v '^\[' "$tmp/out3" | tail -5 | sed 's/^/    /'
fi
sent=$(sed -n 's/^sent://p' "$tmp/client.out")
insum=$(sed -n 's/^insum:\([0-9a-f]*\).*/\1/p' "$tmp/out3" | head -1)
if [ -n "$sent" ] && [ "$sent" = "$insum" ]; then
    ok "socket: 256 KiB client -> guest, checksum matches"
else
    bad "socket: client -> guest checksum: sent '$sent', guest '$insum'" "$tmp/client.out"
fi
outsum=$(sed -n 's/^outsum:\([0-9a-f]*\).*/\1/p' "$tmp/out3" | head -1)
if [ -n "$outsum" ] && grep -q "^received:$N:$outsum" "$tmp/client.out"; then
    ok "socket: 256 KiB guest -> client, checksum matches"
else
    bad "socket: guest -> client: guest '$outsum', client '$(grep received "$tmp/client.out")'" "$tmp/out3"
fi
if [ $rc -eq 0 ] && grep -q "guest: exit status 0" "$tmp/out3" && [ ! -e "$SOCK" ]; then
    ok "socket: clean exit, socket file removed"
else
    bad "socket: vmon exit $rc" "$tmp/out3"
fi

# ---- 4. bad input ----
expect_err() { # name, pattern, --vconsole spec
    local name=$1 pat=$2 spec=$3
    timeout 30 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 20 \
        --vconsole "$spec" --append "console=ttyS0 guest.exit" </dev/null >"$tmp/bad.out" 2>"$tmp/bad.err"
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -qiE -- "$pat" "$tmp/bad.err" &&
        ! grep -q "init reached" "$tmp/bad.out"; then
        ok "bad input $name: $(head -1 "$tmp/bad.err")"
    else
        bad "bad input $name: exit $rc" "$tmp/bad.err"
    fi
}
expect_err unknown-option "unknown option 'bogus'" "bogus=1"
expect_err empty "missing argument" ""
expect_err no-such-dir "cannot open '.*/nodir/out' for writing: no such file or directory" "$tmp/nodir/out"
expect_err directory "cannot open '.*' for writing: is a directory" "$tmp"
expect_err empty-socket "empty socket path" "socket="
long=$tmp/$(printf 's%.0s' $(seq 120))
expect_err socket-too-long "socket path too long \([0-9]+ bytes, at most 107\)" "socket=$long"
expect_err socket-not-socket "exists and is not a socket" "socket=$tmp/vc.out"
expect_err socket-no-dir "cannot create socket '.*/nodir/s': no such file or directory" "socket=$tmp/nodir/s"
if [ -n "$(ls -A "$tmp/nodir" 2>/dev/null)" ]; then bad "bad input left files behind"; fi

# ---- 5. a second vmon on a socket in use is refused without disturbing the
# first: output the first buffered before any client is still delivered ----
SOCK2=$tmp/busy.sock
CMD=$(echo "echo buffered-before-client >/dev/hvc1; sleep 6" | run_arg)
timeout 60 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 40 --vconsole "socket=$SOCK2" \
    --append "console=ttyS0 guest.run=$CMD" </dev/null >"$tmp/out5" 2>&1 &
vpid=$!
for _ in $(seq 100); do grep -q "guest: running" "$tmp/out5" && break; sleep 0.1; done
sleep 1
expect_err socket-in-use "socket '.*busy.sock' is in use by another vmon" "socket=$SOCK2"
got=$(timeout 20 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1]); s.settimeout(10)
buf = b""
end = time.time() + 10
while b"buffered-before-client" not in buf and time.time() < end:
    try:
        d = s.recv(4096)
    except socket.timeout:
        break
    if not d:
        break
    buf += d
print("yes" if b"buffered-before-client" in buf else "no")' "$SOCK2")
wait "$vpid"
rc=$?
vpid=""
if [ "$got" = yes ]; then
    ok "socket in use: the first vmon's buffered output still reaches its client"
else
    bad "socket in use: buffered output lost (client saw: $got)" "$tmp/out5"
fi
if [ $rc -eq 0 ] && [ ! -e "$SOCK2" ] && [ ! -e "$SOCK2.lock" ]; then
    ok "socket in use: first vmon exits 0, socket and lock file removed"
else
    bad "socket in use: exit $rc, leftovers: $(ls "$tmp" | grep busy)" "$tmp/out5"
fi

echo "vconsole: $pass passed, $fail failed"
[ $fail -eq 0 ]
