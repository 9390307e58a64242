#!/bin/sh
# Install the Debian packages vmon needs (listed in scripts/packages.txt).
#   scripts/setup.sh         everything: build, tests, fuzzing, benchmarks
#   scripts/setup.sh build   only what building and running vmon needs
#   scripts/setup.sh guest   what guest/build.sh needs to build the demo guest
set -eu
cd "$(dirname "$0")/.."
want=${1:-all}
case "$want" in
all | build | guest) ;;
*) echo "usage: scripts/setup.sh [build|guest]" >&2; exit 2 ;;
esac
pkgs=$(awk -v want="$want" '
    /^#/ || /^[[:space:]]*$/ { next }
    /^\[/ { section = $0; next }
    section == "[" want "]" || (want == "all" && section != "[guest]") { print }' scripts/packages.txt | tr '\n' ' ')
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "setup: all packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "setup: installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
