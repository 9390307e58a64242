#!/bin/bash
# virtio-9p host directory share (and virtio-rng) end to end with the demo
# guest. One boot mounts a read-write share and a read-only one (which holds
# the guest's script), then:
#  - reads a host file, creates, mkdirs, renames, appends, chmods, makes and
#    reads a symlink, unlinks, lists with ls -l, moves 3 MiB each way with
#    checksums; after vmon exits the host sees exactly those changes;
#  - tries to get out: ../ paths, host-made symlinks to /etc, ../outside and
#    an absolute path outside, writing and creating through them and via
#    "..": nothing outside the share is read, created or changed;
#  - the read-only share refuses writes with EROFS, its files stay as they were;
#  - with --rng, /dev/hwrng gives 64 bytes that are not all zero; a second
#    boot without --rng has no working /dev/hwrng.
# Then bad --share options: clear message, nonzero exit, before the guest runs.
set -u
VMON=${VMON:-build/vmon}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # sets KERNEL, INITRD
tmp=$(mktemp -d)
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
box=$tmp/box # the share, its neighbours and nothing else
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && grep -v '^\[' "$2" | tail -25 | sed 's/^/    /'
}
check() { # name, command...: PASS if the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name" "$tmp/out"; fi
}
# A listing of a tree with types, modes, sizes, link targets and checksums.
snapshot() {
    (cd "$1" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort &&
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
res() { sed -n "s/^R:$1=//p" "$tmp/out" | tr -d '\r' | head -1; }

S=$box/share
O=$box/outside
R=$box/ro
mkdir -p "$S/sub" "$O" "$R"
echo "hello from the host" >"$S/in.txt"
echo "to be renamed" >"$S/to-rename.txt"
echo "to be deleted" >"$S/to-delete.txt"
echo "line1" >"$S/append.txt"
echo "mode" >"$S/mode.txt"
chmod 644 "$S/mode.txt"
echo "inner" >"$S/sub/inner.txt"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$S/big.bin"
ln -s /etc "$S/link-etc"
ln -s ../outside "$S/link-up"
ln -s "$O" "$S/link-abs"
echo "OUTSIDE-SECRET" >"$O/secret.txt"
echo "read-only content" >"$R/ro.txt"
cat >"$R/t.sh" <<'EOF'
S=/s
r() { echo "R:$1=$2"; }
sed 's/^/in:/' $S/in.txt
echo guest-new >$S/new.txt && r create ok
mkdir $S/newdir && echo made-in-guest >$S/newdir/f.txt && r mkdir ok
mv $S/to-rename.txt $S/renamed.txt && r rename ok
echo line2 >>$S/append.txt && r append ok
chmod 640 $S/mode.txt && r chmod "$(stat -c %a $S/mode.txt)"
ln -s in.txt $S/glink && r symlink ok
r readlink "$(readlink $S/glink)"
r readthrough "$(cat $S/glink)"
rm $S/to-delete.txt && r unlink ok
r bigsum "$(sha256sum $S/big.bin | cut -d' ' -f1)"
dd if=/dev/urandom of=/tmp/g.bin bs=4096 count=768 2>/dev/null
cp /tmp/g.bin $S/gbig.bin && r gbigsum "$(sha256sum /tmp/g.bin | cut -d' ' -f1)"
r gbigback "$(sha256sum $S/gbig.bin | cut -d' ' -f1)"
ls -l $S | sed 's/^/ls:/'
r ls-count "$(ls $S | wc -l)"
# escape attempts: the guest's own VFS resolves these, never the host
r passwd-dotdot "$(head -1 $S/../../etc/passwd 2>/dev/null)"
r passwd-guest "$(head -1 /etc/passwd 2>/dev/null)"
cat $S/link-up/secret.txt $S/link-abs/secret.txt $S/sub/../../outside/secret.txt 2>&1 | sed 's/^/esc:/'
echo pwned >$S/link-up/pwned.txt 2>/dev/null && r write-up ok
echo pwned >$S/link-abs/pwned.txt 2>/dev/null && r write-abs ok
echo pwned >$S/link-etc/vmon-pwned-by-guest 2>/dev/null
echo dotdot >$S/../created-via-dotdot 2>/dev/null
mkdir $S/sub/../../escape-dir 2>/dev/null
(cd $S/sub && echo rel >../../rel-escape 2>/dev/null)
ls $S/link-etc/ >/dev/null 2>&1
r link-etc-type "$(stat -c %F $S/link-etc)"
# the read-only share
(echo x >/r/ro.txt) 2>/tmp/e1; r ro-write "$? $(cat /tmp/e1)"
touch /r/new 2>/tmp/e2; r ro-create "$? $(cat /tmp/e2)"
mkdir /r/d 2>/tmp/e3; r ro-mkdir "$? $(cat /tmp/e3)"
rm -f /r/ro.txt 2>/tmp/e4; r ro-rm "$? $(cat /tmp/e4)"
r ro-read "$(cat /r/ro.txt)"
# virtio-rng
r hwrng-bytes "$(head -c 64 /dev/hwrng | od -An -v -tx1 | wc -w)"
r hwrng-zero "$(head -c 64 /dev/hwrng | od -An -v -tx1 | tr -d ' \n' | tr -d 0 | wc -c)"
umount $S && r umount ok
EOF
before_share=$(snapshot "$S")
before_out=$(snapshot "$O")
before_ro=$(snapshot "$R")
top_before=$(ls -A "$box" | LC_ALL=C sort | tr '\n' ' ')

MNT="mount+-t+9p+-o+trans=virtio,version=9p2000.L"
CMD="mkdir+/s+/r;$MNT+hostshare+/s&&$MNT,ro+scripts+/r&&sh+/r/t.sh"
timeout 120 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 100 --rng \
    --share "$S,tag=hostshare" --share "$R,tag=scripts,ro" \
    --append "console=ttyS0 guest.run=$CMD" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q "guest: exit status 0" "$tmp/out" && [ "$(res umount)" = ok ]; then
    ok "share boot: guest ran the script from the read-only share and unmounted"
else
    bad "share boot: vmon exit $rc" "$tmp/out"
    sed 's/^/    /' "$tmp/err" | head -5
fi

# ---- what the guest saw and did ----
check "read host file" grep -q "^in:hello from the host" "$tmp/out"
check "create" test "$(res create)" = ok -a "$(cat "$S/new.txt" 2>/dev/null)" = guest-new
check "mkdir" test "$(cat "$S/newdir/f.txt" 2>/dev/null)" = made-in-guest
check "rename" test "$(cat "$S/renamed.txt" 2>/dev/null)" = "to be renamed" -a ! -e "$S/to-rename.txt"
check "append" test "$(cat "$S/append.txt")" = "$(printf 'line1\nline2')"
check "chmod (guest sees 640, host file is 640)" test "$(res chmod)" = 640 -a "$(stat -c %a "$S/mode.txt")" = 640
check "symlink created, host sees a link to in.txt" test -L "$S/glink" -a "$(readlink "$S/glink")" = in.txt
check "readlink in the guest" test "$(res readlink)" = in.txt
check "read through the guest's symlink" test "$(res readthrough)" = "hello from the host"
check "unlink" test ! -e "$S/to-delete.txt" -a "$(res unlink)" = ok
if grep -qE '^ls:-rw-r-----.* mode\.txt' "$tmp/out" && grep -q '^ls:l.* glink -> in.txt' "$tmp/out" &&
    grep -qE "^ls:-.* $((3 * 1024 * 1024 + 17)) .*big\.bin" "$tmp/out" &&
    grep -q '^ls:d.* newdir' "$tmp/out" && [ "$(res ls-count)" = "$(ls "$S" | wc -l)" ]; then
    ok "ls -l: modes, sizes, link targets, entry count"
else
    bad "ls -l listing" "$tmp/out"
fi
check "3 MiB host -> guest checksum" test "$(res bigsum)" = "$(sha256sum "$S/big.bin" | cut -d' ' -f1)"
gsum=$(res gbigsum)
check "3 MiB guest -> host checksum" test -n "$gsum" -a "$gsum" = "$(sha256sum "$S/gbig.bin" 2>/dev/null | cut -d' ' -f1)" -a "$(res gbigback)" = "$gsum"

# ---- the host sees exactly the guest's changes ----
expected=$(
    cd "$tmp" && rm -rf exp && mkdir exp && cp -a "$S/." exp/ 2>/dev/null
    # Undo, on a copy, what the guest was asked to do; then it must equal
    # the snapshot taken before the run.
    cd exp && rm -f new.txt glink gbig.bin && rm -rf newdir && mv renamed.txt to-rename.txt &&
        printf 'line1\n' >append.txt && chmod 644 mode.txt && echo "to be deleted" >to-delete.txt
) 2>&1
after_undo=$(snapshot "$tmp/exp")
rm -rf "$tmp/exp"
if [ "$after_undo" = "$before_share" ]; then
    ok "host share: exactly the guest's changes, nothing else"
else
    bad "host share differs beyond the guest's changes $expected"
    diff <(echo "$before_share") <(echo "$after_undo") | head -10 | sed 's/^/    /'
fi

# ---- escapes ----
if grep -q "OUTSIDE-SECRET" "$tmp/out"; then
    bad "escape: a file outside the share was read by the guest" "$tmp/out"
else
    ok "escape: ../outside, absolute and ../../ paths do not reach the host's files"
fi
check "escape: ../../etc/passwd is the guest's own" test "$(res passwd-dotdot)" = "$(res passwd-guest)"
check "escape: link-etc is seen as a symbolic link" test "$(res link-etc-type)" = "symbolic link"
if [ "$(snapshot "$O")" = "$before_out" ] && [ "$(ls -A "$box" | LC_ALL=C sort | tr '\n' ' ')" = "$top_before" ] &&
    [ ! -e /etc/vmon-pwned-by-guest ] && [ -z "$(res write-up)$(res write-abs)" ]; then
    ok "escape: nothing created or changed outside the share (writes via links and .. failed)"
else
    bad "escape: something outside the share changed" "$tmp/out"
    ls -A "$box" "$O" | sed 's/^/    /'
fi

# ---- read-only share ----
rofail=0
for k in ro-write ro-create ro-mkdir ro-rm; do
    v=$(res $k)
    case "$v" in
    0*) rofail=1 ;;
    *Read-only*) ;;
    *) rofail=1 ;;
    esac
done
if [ $rofail -eq 0 ] && [ "$(res ro-read)" = "read-only content" ] && [ "$(snapshot "$R")" = "$before_ro" ]; then
    ok "ro share: writes, creates, mkdir and rm fail with EROFS; host files unchanged"
else
    bad "ro share: $(res ro-write) / $(res ro-create) / $(res ro-mkdir) / $(res ro-rm)" "$tmp/out"
fi

# ---- hwrng ----
if [ "$(res hwrng-bytes)" = 64 ] && [ "$(res hwrng-zero)" -gt 0 ] 2>/dev/null; then
    ok "hwrng: --rng gives 64 bytes from /dev/hwrng, not all zero"
else
    bad "hwrng: got '$(res hwrng-bytes)' bytes, '$(res hwrng-zero)' nonzero digits" "$tmp/out"
fi
CMD2="head+-c+64+/dev/hwrng>/tmp/h;echo+R:norng=\$?,\$(wc+-c</tmp/h)"
timeout 60 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 40 \
    --append "console=ttyS0 guest.run=$CMD2" </dev/null >"$tmp/out2" 2>&1
v=$(sed -n 's/^R:norng=//p' "$tmp/out2" | tr -d '\r' | head -1)
case "$v" in
*,0) ok "hwrng: without --rng /dev/hwrng gives nothing ($v)" ;;
*) bad "hwrng: without --rng got '$v'" "$tmp/out2" ;;
esac

# ---- cache=loose: Linux keeps a descriptor-holding fid per written file;
# more files than vmon keeps descriptors for (1024) still work ----
L=$tmp/loose
mkdir -p "$L"
CMD3="mkdir+/s;mount+-t+9p+-o+trans=virtio,cache=loose+loose+/s&&for+i+in+\$(seq+1+1200);do+echo+f\$i>/s/f\$i||break;done;for+i+in+\$(seq+1+1200);do+echo+g\$i>>/s/f\$i||break;done;echo+R:loose=\$(ls+/s|wc+-l),\$(cat+/s/f7|tr+-d+'\\n')"
timeout 150 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 120 --share "$L,tag=loose" \
    --append "console=ttyS0 guest.run=$CMD3" </dev/null >"$tmp/out3" 2>&1
v=$(sed -n 's/^R:loose=//p' "$tmp/out3" | tr -d '\r' | head -1)
if [ "$v" = "1200,f7g7" ] && [ "$(ls "$L" | wc -l)" = 1200 ] &&
    [ "$(cat "$L/f1200")" = "$(printf 'f1200\ng1200')" ] && ! grep -q "Too many open files" "$tmp/out3"; then
    ok "cache=loose: 1200 files written and appended to (descriptors reclaimed and reopened)"
else
    bad "cache=loose: guest saw '$v', host has $(ls "$L" | wc -l) files" "$tmp/out3"
fi

# ---- bad input ----
expect_err() { # name, pattern, --share spec
    local name=$1 pat=$2 spec=$3
    timeout 30 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 20 \
        --share "$spec" --append "console=ttyS0 guest.exit" </dev/null >"$tmp/bad.out" 2>"$tmp/bad.err"
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -qiE -- "$pat" "$tmp/bad.err" &&
        ! grep -q "init reached" "$tmp/bad.out"; then
        ok "bad input $name: $(head -1 "$tmp/bad.err")"
    else
        bad "bad input $name: exit $rc" "$tmp/bad.err"
    fi
}
expect_err missing-dir "$tmp/nonexistent: no such file or directory" "$tmp/nonexistent,tag=x"
expect_err file-not-dir "in.txt: not a directory" "$S/in.txt,tag=x"
expect_err missing-tag "missing tag=TAG" "$S"
expect_err tag-too-long "tag must be 1 to 64 characters" "$S,tag=$(printf 't%.0s' $(seq 65))"
expect_err empty-tag "tag must be 1 to 64 characters" "$S,tag="
expect_err unknown-option "unknown share option 'cache=loose'" "$S,tag=x,cache=loose"
expect_err no-dir "no directory given" ",tag=x"

echo "share: $pass passed, $fail failed"
[ $fail -eq 0 ]
