#!/bin/bash
# The serial console on a terminal: see console_pty.py.
set -u
VMON=${VMON:-build/vmon}
. "$(dirname "$0")/guest.sh"
exec python3 "$(dirname "$0")/console_pty.py" "$VMON" "$KERNEL" "$INITRD"
