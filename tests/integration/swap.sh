#!/bin/bash
# Hypervisor swap: a 512 MiB guest held to 128 MiB of host memory
# (--mem-limit) writes 200 MB into its tmpfs and reads it back twice; the
# checksums equal the host's of the same bytes (in a sandboxed vmon), vmon's memory
# stays far below what the guest used, and pages really went to the swap
# file and came back. Bad limits are refused.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
. "$(dirname "$0")/guest.sh" # KERNEL, INITRD
LOG=$tmp/out

want=$(yes vmon-swap-test-line-0123456789 | head -c 209715200 | md5sum | cut -d' ' -f1)
run='yes+vmon-swap-test-line-0123456789|head+-c+209715200+>/tmp/f;md5sum+/tmp/f;sync;md5sum+/tmp/f;rm+/tmp/f'
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --mem 512M --mem-limit 128M --swap-dir "$tmp" --sandbox \
    --stats --timeout 400 --console "$tmp/console" --append "console=ttyS0 quiet guest.run=$run" \
    </dev/null >"$tmp/out" 2>&1 &
pid=$!
peak=0
base=
while kill -0 $pid 2>/dev/null; do
    r=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null)
    [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
    [ -z "$base" ] && grep -q "^guest: running" "$tmp/console" 2>/dev/null && base=$r
    sleep 0.2
done
wait $pid
rc=$?
sums=$(tr -d '\r' <"$tmp/console" | grep -c "^$want  /tmp/f")
[ $rc = 0 ] && [ "$sums" = 2 ] &&
    ok "200 MB written and read twice in a 512 MiB guest held to 128 MiB: both checksums right" ||
    bad "status $rc, $sums of 2 checksums right (want $want)"
# 200 MB of data: without the limit vmon's memory grows by all of it from
# when the guest's command starts; with it, by at most the limit's worth
grow=$((peak - ${base:-0}))
[ -n "$base" ] && [ "$grow" -lt $((160 * 1024)) ] &&
    ok "vmon's resident memory grew by $((grow / 1024)) MiB for 200 MB of guest data (to $((peak / 1024)) MiB)" ||
    bad "RSS from ${base:-?} to $peak kB"
line=$(grep '^swap:' "$tmp/out")
out=$(echo "$line" | sed -E 's/.* out ([0-9]+) .*/\1/')
in=$(echo "$line" | sed -E 's/.* in ([0-9]+) .*/\1/')
[ "${out:-0}" -gt 50000 ] && [ "${in:-0}" -gt 50000 ] &&
    ok "pages went out to the swap file and came back ($line)" || bad "swap figures: $line"
[ -z "$(ls "$tmp" | grep vmon-swap)" ] && ok "the swap file left nothing behind" || bad "swap file left"

bad_limit() { # what, message, args...
    local what=$1 want=$2
    shift 2
    "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --console none --timeout 5 "$@" \
        </dev/null >"$tmp/bad" 2>&1
    local rc=$?
    LOG=$tmp/bad
    [ $rc != 0 ] && [ $rc -lt 128 ] && grep -q "$want" "$tmp/bad" &&
        ok "$what: refused ($(tail -1 "$tmp/bad"))" || bad "$what: status $rc"
}
bad_limit "a limit above the guest's RAM" "up to less than the guest" --mem 256M --mem-limit 512M
bad_limit "a tiny limit" "want 16" --mem 256M --mem-limit 1M
bad_limit "a limit that is no size" "invalid --mem-limit" --mem-limit lots
bad_limit "a swap directory that does not exist" "swap file in /nonexistent" --mem 256M \
    --mem-limit 64M --swap-dir /nonexistent

report swap
