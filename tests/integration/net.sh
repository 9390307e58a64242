#!/bin/bash
# virtio-net end to end with the demo guest:
#  - user networking (libslirp): the guest gets 10.0.2.15 by DHCP, fetches a
#    file over HTTP from a server on the host's loopback (as 10.0.2.2) and
#    checks its SHA-256; the host reaches an HTTP server in the guest and a
#    UDP listener through hostfwd; mac= reaches the guest;
#  - tap: inside a private network namespace, the guest pings the host end
#    of a tap interface and fetches a file from it (skipped, and not counted
#    as passed, where namespaces or /dev/net/tun are not available);
#  - bad --net options and a busy host port: clear message, nonzero exit.
# Only loopback addresses and a private namespace are used; every wait is
# bounded.
set -u
VMON=${VMON:-build/vmon}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # sets KERNEL, INITRD
tmp=$(mktemp -d)
pids=()
netns=""
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && grep -v '^\[' "$2" | tail -20 | sed 's/^/    /'
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for PATTERN FILE SECONDS [PID]: 0 once PATTERN shows up in FILE,
# 1 on timeout or when PID has exited.
wait_for() {
    local pat=$1 file=$2 secs=$3 pid=${4:-}
    local n=$((secs * 5))
    while [ $n -gt 0 ]; do
        grep -qE "$pat" "$file" 2>/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            grep -qE "$pat" "$file" 2>/dev/null
            return
        fi
        sleep 0.2
        n=$((n - 1))
    done
    return 1
}

# wait_exit PID SECONDS: the process's exit status, or 124 after killing it.
wait_exit() {
    local pid=$1 n=$(($2 * 5))
    while [ $n -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
        sleep 0.2
        n=$((n - 1))
    done
    kill -0 "$pid" 2>/dev/null && kill "$pid" 2>/dev/null
    wait "$pid"
}

# Start an HTTP server on the host serving DIR; sets HTTP_PORT.
start_http() { # dir, log, [netns] [address]
    local dir=$1 log=$2 ns=${3:-} addr=${4:-127.0.0.1}
    if [ -n "$ns" ]; then
        ip netns exec "$ns" python3 -u -m http.server 0 --bind "$addr" --directory "$dir" \
            >"$log" 2>&1 &
    else
        python3 -u -m http.server 0 --bind "$addr" --directory "$dir" >"$log" 2>&1 &
    fi
    pids+=($!)
    HTTP_PORT=""
    wait_for "Serving HTTP on .* port [0-9]+" "$log" 10 || return 1
    HTTP_PORT=$(sed -nE 's/.*Serving HTTP on .* port ([0-9]+).*/\1/p' "$log" | head -1)
    [ -n "$HTTP_PORT" ]
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# A busybox udhcpc script that applies the lease and prints it.
DHCP_SCRIPT='printf+"#!/bin/sh\n[+\"\$1\"+=+bound+]&&ifconfig+\$interface+\$ip+netmask+\$subnet&&route+add+default+gw+\$router;echo+lease:+\$1+\$ip+\$router+\$dns\n">/tmp/d;chmod+755+/tmp/d'

# ---- 1. user networking: DHCP, HTTP from the host, hostfwd tcp and udp ----
mkdir -p "$tmp/www"
head -c $((1024 * 1024 + 123)) /dev/urandom >"$tmp/www/data.bin"
if ! start_http "$tmp/www" "$tmp/http.log"; then
    bad "user: cannot start python3 http.server" "$tmp/http.log"
else
    HP=$(free_port)
    UP=$(free_port)
    cat >"$tmp/www/s.sh" <<EOF
echo "mac=\$(cat /sys/class/net/eth0/address)"
echo "ip=\$(ifconfig eth0 | sed -n 's/.*inet addr:\([0-9.]*\).*/\1/p')"
wget -q -O /tmp/data.bin http://10.0.2.2:$HTTP_PORT/data.bin &&
    echo "fetch-sum=\$(sha256sum /tmp/data.bin | cut -d' ' -f1)"
mkdir -p /tmp/www
dd if=/dev/urandom of=/tmp/www/g.bin bs=1024 count=1024 2>/dev/null
echo "serve-sum=\$(sha256sum /tmp/www/g.bin | cut -d' ' -f1)"
httpd -p 8080 -h /tmp/www
nc -u -l -p 5353 >/tmp/udp 2>/dev/null &
sleep 1
echo "guest-ready"
i=0
while [ \$i -lt 100 ]; do
    wget -q -O /dev/null http://10.0.2.2:$HTTP_PORT/done 2>/dev/null && break
    sleep 1
    i=\$((i + 1))
done
kill %1 2>/dev/null
echo "udp=\$(head -1 /tmp/udp)"
echo "guest-done"
EOF
    CMD="ifconfig+eth0+up;$DHCP_SCRIPT;udhcpc+-i+eth0+-n+-q+-t+5+-s+/tmp/d&&wget+-q+-O+/tmp/s+http://10.0.2.2:$HTTP_PORT/s.sh&&sh+/tmp/s"
    "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 150 --console "$tmp/out" \
        --net "user,hostfwd=tcp::$HP-:8080,hostfwd=udp::$UP-:5353,mac=52:54:00:ab:cd:ef" \
        --append "console=ttyS0 guest.run=$CMD" </dev/null >"$tmp/vmon.err" 2>&1 &
    vpid=$!
    pids+=($vpid)
    fetched=""
    if wait_for "guest-ready" "$tmp/out" 120 "$vpid"; then
        # host -> guest through hostfwd (tcp), then a few UDP datagrams
        fetched=$(timeout 60 python3 - "$HP" "$UP" <<'EOF'
import hashlib, socket, sys, urllib.request
hp, up = int(sys.argv[1]), int(sys.argv[2])
try:
    data = urllib.request.urlopen("http://127.0.0.1:%d/g.bin" % hp, timeout=30).read()
    print(hashlib.sha256(data).hexdigest(), len(data))
except Exception as e:
    print("error", e)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"vmon-udp-hello\n", ("127.0.0.1", up))
EOF
)
        sleep 1
    fi
    touch "$tmp/www/done"
    wait_exit "$vpid" 120
    rc=$?
    out="$tmp/out"
    if grep -q "lease of 10.0.2.15 obtained from 10.0.2.2" "$out" && grep -q "^ip=10.0.2.15" "$out"; then
        ok "user dhcp: guest leased 10.0.2.15 from slirp"
    else
        bad "user dhcp: no lease" "$out"
    fi
    if grep -q "^mac=52:54:00:ab:cd:ef" "$out"; then
        ok "user mac: mac= option seen by the guest"
    else
        bad "user mac: guest MAC not 52:54:00:ab:cd:ef" "$out"
    fi
    want=$(sha "$tmp/www/data.bin")
    if grep -q "^fetch-sum=$want" "$out"; then
        ok "user http: guest fetched 1 MiB from the host, checksum matches"
    else
        bad "user http: guest checksum differs from host ($want)" "$out"
    fi
    gsum=$(sed -n 's/^serve-sum=//p' "$out" | tr -d '\r' | head -1)
    if [ -n "$gsum" ] && [ "${fetched%% *}" = "$gsum" ]; then
        ok "user hostfwd tcp: host fetched 1 MiB from the guest's httpd, checksum matches"
    else
        bad "user hostfwd tcp: host got '${fetched:-nothing}', guest has '$gsum'" "$out"
    fi
    if grep -q "^udp=vmon-udp-hello" "$out"; then
        ok "user hostfwd udp: datagram reached the guest"
    else
        bad "user hostfwd udp: datagram not received" "$out"
    fi
    if [ "$rc" -eq 0 ] && grep -q "guest-done" "$out" && grep -q "guest: exit status 0" "$out"; then
        ok "user run: clean poweroff"
    else
        bad "user run: vmon exit status $rc" "$out"
        sed 's/^/    /' "$tmp/vmon.err" | head -5
    fi
fi

# ---- 2. tap in a private network namespace ----
netns_try="vmon-net-$$"
if ! ip netns add "$netns_try" 2>"$tmp/ns.err"; then
    echo "SKIP tap: cannot create a network namespace ($(head -1 "$tmp/ns.err"))"
else
    netns=$netns_try
    if ! ip netns exec "$netns" ip tuntap add vmtap0 mode tap 2>"$tmp/ns.err"; then
        echo "SKIP tap: cannot create a tap device ($(head -1 "$tmp/ns.err"))"
    else
        ip netns exec "$netns" ip link set lo up
        ip netns exec "$netns" ip addr add 192.168.76.1/24 dev vmtap0
        ip netns exec "$netns" ip link set vmtap0 up
        mkdir -p "$tmp/tapwww"
        echo "hello-through-tap" >"$tmp/tapwww/hello.txt"
        if ! start_http "$tmp/tapwww" "$tmp/taphttp.log" "$netns" 192.168.76.1; then
            bad "tap: cannot start http server in the namespace" "$tmp/taphttp.log"
        else
            CMD="cat+/sys/class/net/eth0/address;ifconfig+eth0+192.168.76.2+netmask+255.255.255.0+up;ping+-c+3+-W+5+192.168.76.1;wget+-q+-O+-+http://192.168.76.1:$HTTP_PORT/hello.txt"
            timeout 150 ip netns exec "$netns" "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" \
                --timeout 120 --console "$tmp/tapout" --net tap,ifname=vmtap0 \
                --append "console=ttyS0 guest.run=$CMD" </dev/null >"$tmp/vmon.err" 2>&1
            rc=$?
            if [ $rc -eq 0 ] && grep -q "^52:54:00:12:34:56" "$tmp/tapout" &&
                grep -qE "[1-3] packets received" "$tmp/tapout" &&
                grep -q "^hello-through-tap" "$tmp/tapout"; then
                ok "tap: default MAC, ping and HTTP through a tap interface"
            else
                bad "tap: exit status $rc" "$tmp/tapout"
                sed 's/^/    /' "$tmp/vmon.err" | head -5
            fi
        fi
    fi
fi

# ---- 3. bad input: clear message, nonzero exit, before the guest runs ----
expect_err() { # name, pattern, --net spec, [command prefix...]
    local name=$1 pat=$2 spec=$3
    shift 3
    timeout 30 "$@" "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 20 \
        --net "$spec" --append "console=ttyS0 guest.exit" </dev/null >"$tmp/bad.out" 2>"$tmp/bad.err"
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -qiE "$pat" "$tmp/bad.err" &&
        ! grep -q "init reached" "$tmp/bad.out"; then
        ok "bad input $name: $(head -1 "$tmp/bad.err")"
    else
        bad "bad input $name: exit $rc" "$tmp/bad.err"
    fi
}

python3 -u -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1]); time.sleep(60)' >"$tmp/busy.port" &
pids+=($!)
if wait_for "^[0-9]+$" "$tmp/busy.port" 10; then
    BP=$(head -1 "$tmp/busy.port")
    expect_err busy-port "hostfwd tcp::$BP: address in use" "user,hostfwd=tcp::$BP-:80"
else
    bad "bad input busy-port: could not occupy a port"
fi
expect_err hostfwd-syntax "bad hostfwd 'tcp:8080:80'" "user,hostfwd=tcp:8080:80"
expect_err hostfwd-proto "protocol must be tcp or udp" "user,hostfwd=sctp::8080-:80"
expect_err hostfwd-port "bad host port '99999'" "user,hostfwd=tcp::99999-:80"
expect_err hostfwd-guest-port "bad guest port '0'" "user,hostfwd=tcp::8080-:0"
expect_err bad-mac "bad MAC '52:54:00:zz:00:01'" "user,mac=52:54:00:zz:00:01"
expect_err multicast-mac "multicast" "user,mac=01:00:5e:00:00:01"
expect_err unknown-key "unknown option 'foo=bar'" "user,foo=bar"
expect_err unknown-type "unknown network type 'bridge'" "bridge"
expect_err tap-ifname "bad tap ifname" "tap,ifname=a-very-long-interface-name"
# No permission for /dev/net/tun: as root, drop to nobody (the node is 0600
# root on Debian); otherwise it is what an unprivileged user gets anyway.
if [ ! -c /dev/net/tun ]; then
    expect_err tap-no-tun "cannot open /dev/net/tun" "tap,ifname=vmtapx"
elif [ "$(id -u)" != 0 ] && [ ! -w /dev/net/tun ]; then
    expect_err tap-permission "cannot open /dev/net/tun: permission denied" "tap,ifname=vmtapx"
elif [ "$(id -u)" = 0 ] && [ "$(stat -c %a /dev/net/tun)" = 600 ] && command -v setpriv >/dev/null; then
    expect_err tap-permission "cannot open /dev/net/tun: permission denied" \
        "tap,ifname=vmtapx" setpriv --reuid=65534 --regid=65534 --clear-groups
else
    echo "SKIP tap-permission: /dev/net/tun is usable here"
fi

echo "net: $pass passed, $fail failed"
[ $fail -eq 0 ]
