#!/usr/bin/env python3
"""Host end of the network benchmark (bench/net.sh).

  net_host.py sink PORTFILE NBYTES
      Listen on 127.0.0.1 (a free port, written to PORTFILE), accept one
      connection, read NBYTES (or until EOF) and print
      "bytes=N seconds=S" timed from accept to the last byte.
  net_host.py source PORT NBYTES
      Connect to 127.0.0.1:PORT, send NBYTES of zeros, half-close, and wait
      until the peer closes (it has read everything); print
      "bytes=N seconds=S" timed from connect to the peer's close.
Every wait is bounded (BENCH_NET_TIMEOUT seconds, default 120)."""
import os
import socket
import sys
import time

TIMEOUT = float(os.environ.get("BENCH_NET_TIMEOUT", "120"))


def sink(portfile, nbytes):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(TIMEOUT)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    conn, _ = srv.accept()
    conn.settimeout(TIMEOUT)
    t0 = time.monotonic()
    got = 0
    while got < nbytes:
        d = conn.recv(1 << 20)
        if not d:
            break
        got += len(d)
    t1 = time.monotonic()
    conn.close()
    print("bytes=%d seconds=%.6f" % (got, t1 - t0), flush=True)


def source(port, nbytes):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    t0 = time.monotonic()
    buf = bytes(1 << 16)
    left = nbytes
    while left > 0:
        n = s.send(buf[: min(left, len(buf))])
        left -= n
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    t1 = time.monotonic()
    s.close()
    print("bytes=%d seconds=%.6f" % (nbytes - left, t1 - t0), flush=True)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "sink":
        sink(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "source":
        source(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    try:
        main()
    except (OSError, socket.timeout) as e:
        print("error=%s" % e, flush=True)
        sys.exit(1)
