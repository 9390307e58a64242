#!/bin/sh
# /init of the demo guest. The kernel command line drives it:
#   guest.exit      power off as soon as userspace is up (boot-time runs)
#   guest.run=CMD   run CMD ('+' stands for a space), print its status, power off
#   (neither)       interactive shell on the console
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
hostname guest
ncpu=$(grep -c ^processor /proc/cpuinfo)
mem=$(awk '/MemTotal/{print $2}' /proc/meminfo)
echo "guest: init reached at $(cut -d' ' -f1 /proc/uptime)s uptime, $ncpu cpu(s), $mem kB"
cmd=""
for word in $(cat /proc/cmdline); do
    case "$word" in
    guest.exit) echo "guest: powering off"; poweroff -f ;;
    guest.run=*) cmd="${word#guest.run=}" ;;
    esac
done
if [ -n "$cmd" ]; then
    cmd=$(echo "$cmd" | tr '+' ' ')
    echo "guest: running $cmd"
    sh -c "$cmd"
    echo "guest: exit status $?"
    poweroff -f
fi
echo "guest: type 'poweroff -f' to stop the machine"
setsid cttyhack sh -l
poweroff -f
