#!/usr/bin/env python3
"""The serial console on a real terminal (a pty): raw mode while the guest
runs, keyboard input reaching the guest's shell, Ctrl-A x quitting, and the
terminal's settings restored on every way out (Ctrl-A x, guest poweroff,
SIGTERM). Usage: console_pty.py VMON KERNEL INITRD"""
import os, pty, select, signal, sys, termios, time

vmon, kernel, initrd = sys.argv[1:4]
results = []


def check(name, cond):
    results.append((name, bool(cond)))
    print(("PASS " if cond else "FAIL ") + name, flush=True)


class Session:
    def __init__(self):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(vmon, [vmon, "run", "--kernel", kernel, "--initrd", initrd,
                            "--timeout", "90", "--append", "console=ttyS0"])
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
check("sigterm: vmon ends by itself", st is not None)
check("sigterm: terminal settings restored", s.restored())

ok = sum(1 for _, r in results if r)
print("console: %d passed, %d failed" % (ok, len(results) - ok))
sys.exit(0 if ok == len(results) else 1)
