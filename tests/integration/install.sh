#!/bin/bash
# make install PREFIX=... puts the binary, the man page and the bash
# completion in place; `man vmon` renders and documents every option that
# `vmon run --help` lists; the completion offers commands, options and
# option values as a user's TAB would.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}

if make -s -C "$here" install BUILD="$BUILD" PREFIX="$tmp/usr" >"$tmp/out" 2>&1 &&
    [ -x "$tmp/usr/bin/vmon" ] && [ -f "$tmp/usr/share/man/man1/vmon.1" ] &&
    [ -f "$tmp/usr/share/bash-completion/completions/vmon" ]; then
    ok "make install PREFIX=... installs bin/vmon, man1/vmon.1 and the completion"
else
    bad "make install"
    cat "$tmp/out"
fi
"$tmp/usr/bin/vmon" --version | grep -qE '^vmon [0-9]' && ok "the installed vmon runs" || bad "installed vmon"
MANPATH="$tmp/usr/share/man" man -P cat vmon >"$tmp/man.txt" 2>/dev/null
if grep -q "EXIT STATUS" "$tmp/man.txt" && grep -q "vmon img convert" "$tmp/man.txt"; then
    ok "man vmon renders (exit statuses, img commands)"
else
    bad "man vmon"
fi
missing=""
for o in $("$tmp/usr/bin/vmon" run --help | grep -oE '^  --[a-z-]+' | tr -d ' '); do
    grep -q -- "${o//-/\\-}" "$here/doc/vmon.1" || grep -q -- "$o" "$tmp/man.txt" || missing="$missing $o"
done
[ -z "$missing" ] && ok "the man page documents every run option" || bad "options missing from the man page:$missing"

complete_words() { # words... -> completions of the last one
    bash -c '
        . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _vmon; printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/usr/share/bash-completion/completions/vmon" "$@"
}
complete_words "$tmp/usr/bin/vmon" "" | grep -qx run && ok "completion: commands" || bad "completion: commands"
complete_words "$tmp/usr/bin/vmon" run --ker | grep -qx -- --kernel && ok "completion: run options" || bad "completion: run options"
complete_words "$tmp/usr/bin/vmon" run --on-panic re | grep -qx reboot && ok "completion: option values" || bad "completion: values"
complete_words "$tmp/usr/bin/vmon" img con | grep -qx convert && ok "completion: img subcommands" || bad "completion: img"
[ "$(complete_words "$tmp/usr/bin/vmon" "" | grep -cx -e snapshot -e restore)" = 2 ] &&
    complete_words "$tmp/usr/bin/vmon" run --rest | grep -qx -- --restore &&
    ok "completion: snapshot, restore and vmon run --restore" || bad "completion: snapshots"
[ "$(complete_words "$tmp/usr/bin/vmon" "" | grep -cx -e migrate -e receive)" = 2 ] &&
    complete_words "$tmp/usr/bin/vmon" receive --lis | grep -qx -- --listen &&
    complete_words "$tmp/usr/bin/vmon" migrate web --t | grep -qx -- --to &&
    grep -q "vmon migrate" "$tmp/man.txt" && grep -q "vmon receive" "$tmp/man.txt" &&
    ok "completion and man page: migrate, receive" || bad "completion/man: migration"

report install
