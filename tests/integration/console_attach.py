#!/usr/bin/env python3
"""vmon console NAME on a pseudo-terminal: the ring shows what the guest
printed before the attach, a command typed into the guest's shell runs
(echo hi-$((6*7)) shows hi-42), Ctrl-A d detaches with status 0.
Usage: console_attach.py VMON NAME; prints PASS/FAIL lines."""
import os, pty, select, sys, time

vmon, name = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(vmon, [vmon, "console", name])

out = b""


def wait_for(pattern, secs):
    global out
    end = time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if pattern in out:
            return True
    return pattern in out


def check(cond, what):
    print(("PASS " if cond else "FAIL ") + what + ("" if cond else ": " + repr(out[-300:])))


check(wait_for(b"init reached", 20), "attach shows what the guest printed before (the ring)")
os.write(fd, b"\r")
time.sleep(0.5)
os.write(fd, b"echo hi-$((6*7))\r")
check(wait_for(b"hi-42", 20), "a command typed on the console runs in the guest (hi-42)")
os.write(fd, b"\x01d")
check(wait_for(b"detached", 10), "Ctrl-A d detaches")
status = None
end = time.time() + 10
while time.time() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = os.waitstatus_to_exitcode(st)
        break
    try:
        select.select([fd], [], [], 0.2)
        os.read(fd, 4096)
    except OSError:
        time.sleep(0.1)
check(status == 0, "vmon console exits 0 after detaching (status %s)" % status)
