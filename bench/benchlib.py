"""Helpers the snapshot, migration, clone and sharing benchmarks share:
waiting for a console line, vmon's control channel, QEMU's human monitor,
a process's memory."""
import json, socket, time

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

def api(sock, path, method="GET", body=None):
    """One request to vmon serve's API on its unix socket; the JSON answer
    (None for an empty body)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(sock)
    data = b"" if body is None else json.dumps(body).encode()
    s.sendall(f"{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    reply = b""
    while chunk := s.recv(65536):
        reply += chunk
    s.close()
    payload = reply.split(b"\r\n\r\n", 1)[1]
    return json.loads(payload) if payload.strip() else None

def pss_kib(pid, skip="vmon-shared-pages"):
    """PSS of a process in KiB, leaving out mappings whose name has skip."""
    total, counting = 0, True
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(maxsplit=1)[0]
            if "-" in first and not first.endswith(":"):
                counting = skip not in line
            elif first == "Pss:" and counting:
                total += int(line.split()[1])
    return total
