#!/bin/bash
# The demo guest's networking out of the box (the in-tree guest, whose
# initramfs has udhcpc's event script): guest.net gets 10.0.2.15 by DHCP with
# a default route and DNS, the guest fetches a file from a host server
# (out), and the host fetches a page from the guest's httpd through a
# hostfwd port (in), as the README shows.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
hp=
trap '[ -n "$hp" ] && kill $hp 2>/dev/null; kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
VMON=${VMON:-build/vmon}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # KERNEL (the initramfs is the in-tree one)
make -s -C "$here" guest-image >/dev/null
INITRD=$here/build/guest/initramfs.cpio.gz
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$tmp/www"
echo "hello from the host $$" >"$tmp/www/hello.txt"
hport=$(free_port)
python3 -m http.server "$hport" --bind 127.0.0.1 --directory "$tmp/www" >/dev/null 2>&1 &
hp=$!
sleep 0.5

# Out: DHCP, then wget from the host.
timeout 120 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --net user --timeout 90 \
    --append "console=ttyS0 guest.net guest.run=wget+-q+-O+-+http://10.0.2.2:$hport/hello.txt;cat+/etc/resolv.conf;ip+route" \
    </dev/null >"$tmp/out" 2>&1
if grep -q "guest: network up: 10.0.2.15/24 via 10.0.2.2" "$tmp/out"; then
    ok "guest.net: DHCP lease 10.0.2.15/24, default route via 10.0.2.2"
else
    bad "guest.net: no lease"
fi
grep -q "nameserver 10.0.2.3" "$tmp/out" && ok "guest.net: DNS server in /etc/resolv.conf" || bad "no resolv.conf"
grep -q "hello from the host $$" "$tmp/out" && ok "out: the guest fetched a file from the host" || bad "out: wget failed"

# In: the guest serves a page on port 80, the host reaches it through hostfwd.
gport=$(free_port)
timeout 120 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 90 \
    --net "user,hostfwd=tcp::$gport-:80" \
    --append "console=ttyS0 guest.net guest.run=mkdir+/tmp/www;echo+served+by+the+guest>/tmp/www/index.html;httpd+-f+-p+80+-h+/tmp/www" \
    </dev/null >"$tmp/out" 2>&1 &
vpid=$!
got=""
for _ in $(seq 120); do
    got=$(wget -q -T 2 -O - "http://127.0.0.1:$gport/" 2>/dev/null) && [ -n "$got" ] && break
    sleep 0.5
done
if [ "$got" = "served by the guest" ]; then
    ok "in: the host fetched the guest's page through hostfwd"
else
    bad "in: got '$got'"
fi
kill $vpid 2>/dev/null
wait $vpid 2>/dev/null

# Without a network device, guest.net says so and the guest carries on.
timeout 60 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 60 \
    --append "console=ttyS0 guest.net guest.exit" </dev/null >"$tmp/out" 2>&1
if [ $? -eq 0 ] && grep -q "network setup failed" "$tmp/out"; then
    ok "guest.net without --net: a message, then the guest goes on"
else
    bad "guest.net without --net"
fi

report guestnet
