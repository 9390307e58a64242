#!/usr/bin/env python3
"""The serial console on a real terminal (a pty): raw mode while the guest
runs, keyboard input reaching the guest's shell, Ctrl-A x quitting, and the
terminal's settings restored on every way out (Ctrl-A x, guest poweroff,
SIGTERM); and vmon started from a terminal by `timeout`, in the background
of a job-control shell, or with stdin closed never touches or stops on the
terminal. Usage: console_pty.py VMON KERNEL INITRD"""
import os, pty, select, signal, sys, termios, time

vmon, kernel, initrd = sys.argv[1:4]
results = []


def check(name, cond):
    results.append((name, bool(cond)))
    print(("PASS " if cond else "FAIL ") + name, flush=True)


RUN = [vmon, "run", "--kernel", kernel, "--initrd", initrd, "--append", "console=ttyS0"]


class Session:
    def __init__(self, argv=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            argv = argv or RUN + ["--timeout", "90"]
            os.execv(argv[0], argv)
        self.before = termios.tcgetattr(self.fd)
        self.buf = b""

    def wait_for(self, pat, secs):
        end = time.time() + secs
        while time.time() < end:
            if pat in self.buf:
                return True
            r, _, _ = select.select([self.fd], [], [], 0.2)
            if r:
                try:
                    d = os.read(self.fd, 4096)
                except OSError:
                    return pat in self.buf
                if not d:
                    return pat in self.buf
                self.buf += d
        return pat in self.buf

    def send(self, data):
        os.write(self.fd, data)

    def finish(self, secs=20):
        end = time.time() + secs
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            self.wait_for(b"\0never\0", 0.2)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return None  # did not end by itself

    def restored(self):
        now = termios.tcgetattr(self.fd)
        return now[:4] == self.before[:4]

    def shell_ready(self):
        # the demo guest's shell prints a prompt after "init reached"
        return self.wait_for(b"init reached", 60) and self.wait_for(b"# ", 20)


# 1. Ctrl-A x
s = Session()
check("ctrl-a: booted to the shell", s.shell_ready())
raw = termios.tcgetattr(s.fd)
check("ctrl-a: raw mode (no ICANON/ECHO) while the guest runs",
      not (raw[3] & termios.ICANON) and not (raw[3] & termios.ECHO))
s.send(b"echo $((40+2))-from-pty\r")
check("ctrl-a: keyboard input reaches the guest shell", s.wait_for(b"42-from-pty", 30))
# Ctrl-A h lists the escapes; Ctrl-A b sends a break the 8250 driver counts
s.send(b"\x01h")
check("ctrl-a: Ctrl-A h lists the escapes", s.wait_for(b"send a break", 10))
s.send(b"\x01b")
time.sleep(0.3)
s.send(b"\rgrep -o 'brk:[0-9]*' /proc/tty/driver/serial\r")
check("ctrl-a: Ctrl-A b reaches the guest as a serial break", s.wait_for(b"brk:1", 20))
s.send(b"\x01x")
st = s.finish()
check("ctrl-a: Ctrl-A x quits vmon", st is not None and os.WIFEXITED(st))
check("ctrl-a: terminal settings restored", s.restored())

# 2. the guest powers off
s = Session()
check("poweroff: booted to the shell", s.shell_ready())
s.send(b"poweroff -f\r")
st = s.finish()
check("poweroff: vmon exits 0", st is not None and os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0)
check("poweroff: terminal settings restored", s.restored())

# 3. SIGTERM
s = Session()
check("sigterm: booted to the shell", s.shell_ready())
os.kill(s.pid, signal.SIGTERM)
st = s.finish()
check("sigterm: vmon ends by itself with status 143",
      st is not None and os.WIFEXITED(st) and os.WEXITSTATUS(st) == 143)
check("sigterm: says why", s.wait_for(b"terminating on signal 15", 2))
check("sigterm: terminal settings restored", s.restored())

# 4.-6. Started from the terminal but not in its foreground, or without it:
# the guest runs until vmon's --timeout (status 124) or `timeout` ends it,
# vmon is never stopped by SIGTTOU/SIGTTIN, the terminal is left alone.
cmd = " ".join("'%s'" % a for a in RUN)
cases = [
    ("under timeout", "timeout 5 %s --timeout 60; echo rc=$?" % cmd, b"rc=124"),
    ("in the background", "set -m; %s --timeout 4 & wait $!; echo rc=$?" % cmd, b"rc=124"),
    ("stdin closed", "%s --timeout 4 <&-; echo rc=$?" % cmd, b"rc=124"),
]
for name, script, want in cases:
    s = Session(["/bin/bash", "-c", script])
    check(name + ": the guest booted", s.wait_for(b"init reached", 60))
    check(name + ": vmon ended, not stopped (%s)" % want.decode(), s.wait_for(want, 30))
    check(name + ": terminal settings untouched", s.restored())
    s.finish(10)

ok = sum(1 for _, r in results if r)
print("console: %d passed, %d failed" % (ok, len(results) - ok))
sys.exit(0 if ok == len(results) else 1)
