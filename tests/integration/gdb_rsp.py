#!/usr/bin/env python3
"""Speaks the gdb remote protocol to vmon's stub directly, as a misbehaving
client would: garbage, bad checksums, oversized and unknown packets,
Ctrl-C while the guest runs, a disconnect in the middle of a packet; vmon
must answer sanely, keep the guest running and accept the next client.
Usage: gdb_rsp.py HOST PORT; prints PASS/FAIL lines and a result line."""
import socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
results = []


def check(name, cond):
    results.append(bool(cond))
    print(("PASS " if cond else "FAIL ") + name, flush=True)


def connect():
    for _ in range(100):
        try:
            return socket.create_connection((host, port), timeout=10)
        except OSError:
            time.sleep(0.1)
    raise SystemExit("cannot connect")


def packet(body):
    return b"$" + body + b"#%02x" % (sum(body) & 0xff)


def reply(s, secs=10):
    """Next packet body (acks skipped)."""
    s.settimeout(secs)
    buf = b""
    while True:
        c = s.recv(1)
        if not c:
            return None
        if c in b"+-":
            if not buf:
                continue
        buf += c
        if buf.startswith(b"$") and len(buf) >= 4 and buf[-3:-2] == b"#":
            s.sendall(b"+")
            return buf[1:-3]
        if not buf.startswith(b"$"):
            buf = b""


def ask(s, body, secs=10):
    s.sendall(packet(body))
    return reply(s, secs)


s = connect()
check("attach: stop reply", ask(s, b"?").startswith(b"T"))
s.sendall(b"garbage without a packet start \x7f\xff")
s.sendall(b"$m80000000,4#00")  # wrong checksum
s.settimeout(5)
check("bad checksum gets a NAK", s.recv(1) == b"-")
check("physical addressing on", ask(s, b"Qqemu.PhyMemMode:1") == b"OK")
r = ask(s, b"m80000000,4")
check("then a good packet works (physical read %s)" % r, r is not None and len(r) == 8)
check("physical addressing off", ask(s, b"Qqemu.PhyMemMode:0") == b"OK")
check("unknown packet: empty reply", ask(s, b"qNoSuchThing") == b"")
check("bad register number: error", ask(s, b"p99999").startswith(b"E"))
check("read of unmapped memory: error", ask(s, b"m1000000000,8").startswith(b"E"))
check("malformed memory write: error", ask(s, b"M80000000,4:zz").startswith(b"E"))
check("huge length is clipped, not a crash", ask(s, b"m80000000,ffffffff") not in (None, b""))
s.sendall(b"$" + b"A" * 70000 + b"#00")
check("oversized packet: NAK", s.recv(1) == b"-")
threads = ask(s, b"qfThreadInfo")
check("threads listed (%s)" % threads, threads is not None and threads.startswith(b"m1"))
# run, then interrupt with Ctrl-C
s.sendall(packet(b"c"))
time.sleep(1.0)
s.sendall(b"\x03")
r = reply(s, 10)
check("Ctrl-C stops the running guest (%s)" % r, r is not None and r.startswith(b"T02"))
n1 = ask(s, b"p%x" % (65 + 0xc01))  # time
s.sendall(packet(b"c"))
time.sleep(0.3)
# leave in the middle of a packet while the guest runs
s.sendall(b"$m8000")
s.close()
time.sleep(0.5)
s = connect()
r = ask(s, b"?")
check("a new client after a mid-packet disconnect gets a stop reply", r is not None and r.startswith(b"T"))
n2 = ask(s, b"p%x" % (65 + 0xc01))
le = lambda h: int.from_bytes(bytes.fromhex(h.decode()), "little")
check("the guest ran in between (time %d -> %d)" % (le(n1), le(n2)), le(n2) > le(n1))
s.sendall(packet(b"D"))
check("detach", reply(s) == b"OK")
s.close()
ok = sum(results)
print("gdb_rsp: %d passed, %d failed" % (ok, len(results) - ok))
sys.exit(0 if ok == len(results) else 1)
