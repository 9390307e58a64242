"""Helpers the snapshot, migration, clone and sharing benchmarks share:
waiting for a console line, vmon's control channel, QEMU's human monitor,
a process's memory."""
import socket, time

def wait_output(path, needle, secs):
    """True once the file at path contains needle, False after secs."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            with open(path, "rb") as f:
                if needle in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    return False

def control(sock, cmd):
    """One command on a vmon control socket; its reply line."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(300)
    s.connect(sock)
    f = s.makefile("rw")
    f.readline()  # ready
    f.write(cmd + "\n")
    f.flush()
    return f.readline().strip()

def monitor(sock, cmd, wait=0.2):
    """One command on a QEMU monitor socket; what it printed within wait s."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock)
    time.sleep(0.05)
    s.recv(65536)  # banner
    s.sendall((cmd + "\n").encode())
    time.sleep(wait)
    out = s.recv(65536).decode(errors="replace")
    s.close()
    return out

def qemu_migrate_done(mon, secs=120):
    """Poll QEMU's `info migrate` until the migration completed; its text."""
    end = time.monotonic() + secs
    info = ""
    while time.monotonic() < end:
        info = monitor(mon, "info migrate", 0.05)
        if "Migration status: completed" in info or "status: failed" in info:
            break
    return info

def rollup(pid):
    """A process's RSS, PSS and private memory in KiB (smaps_rollup)."""
    v = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                v[parts[0][:-1]] = int(parts[1])
    priv = v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)
    return v.get("Rss", 0), v.get("Pss", 0), priv
