"""Serving as production does (gunicorn.conf.py): slow clients must not take the site down,
and the access log must not keep a wall screen's token.

The attack of the probe: a few sockets that open a request and send one header line every
second or so, never finishing. Under gunicorn's sync workers each one holds a whole worker
(2 such sockets stalled a 2-worker site until the worker timeout); under gthread they hold one
thread each and a normal request still answers at once."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.request

from tests import live

SLOW_SOCKETS = 8
BUDGET_S = 2.0


@contextlib.contextmanager
def _slow_clients(port: int, n: int, seconds: float):
    """n sockets trickling header lines (one per 0.5 s) for `seconds`, never ending the request."""
    stop = threading.Event()
    socks = []
    for _i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        socks.append(s)

    def trickle():
        end = time.monotonic() + seconds
        k = 0
        while not stop.is_set() and time.monotonic() < end:
            for s in socks:
                with contextlib.suppress(OSError):
                    s.sendall(b"X-Slow-%d: x\r\n" % k)
            k += 1
            stop.wait(0.5)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # let the workers pick the slow sockets up
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        for s in socks:
            s.close()


def _timed_get(url: str, timeout: float = 15) -> tuple[float, int]:
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0  # timed out
    return time.monotonic() - start, status


def test_slow_clients_do_not_stall_normal_requests(published):
    # the Makefile's serving command: the config file, 2 workers
    server = live.Gunicorn("all", workers=2, args=("-c", str(live.ROOT / "gunicorn.conf.py")),
                           env={"CITYOPS_RATE_LIMITS": "false"}).start()
    try:
        with _slow_clients(server.port, SLOW_SOCKETS, seconds=20):
            timings = [_timed_get(server.base + path) for path in
                       ("/public/api/v1/metrics", "/login", "/public/api/v1/districts", "/login")]
    finally:
        server.stop()
    print(f"\nnormal request latency with {SLOW_SOCKETS} slow sockets: "
          + ", ".join(f"{t:.3f}s ({s})" for t, s in timings))
    assert all(status == 200 for _t, status in timings), timings
    assert max(t for t, _s in timings) < BUDGET_S, timings


def test_access_log_keeps_no_wall_token(published, accounts, tmp_path):
    log = tmp_path / "access.log"
    token = accounts["wall-token"]
    server = live.Gunicorn("all", workers=1, args=("-c", str(live.ROOT / "gunicorn.conf.py"),
                                                   "--access-logfile", str(log))).start()
    try:
        opener = urllib.request.build_opener(_NoRedirect)
        with contextlib.suppress(urllib.error.HTTPError):
            opener.open(server.base + f"/wall?view=all&token={token}", timeout=10)
    finally:
        server.stop()
    text = log.read_text()
    assert "/wall?view=all&token=[redacted]" in text, text[-500:]
    assert token not in text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_makefile_serves_with_the_config(published):
    """make run / make public / make nyc pass the gunicorn config (gthread workers)."""
    makefile = (live.ROOT / "Makefile").read_text()
    serving = [line for line in makefile.splitlines() if "gunicorn " in line and "app:server" in line]
    assert len(serving) >= 3
    assert all("-c gunicorn.conf.py" in line for line in serving), serving
