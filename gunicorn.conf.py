"""Gunicorn settings for CityOps (read automatically by `gunicorn app:server` run from the repo
root; `make run` and `make public` pass it explicitly).

- **gthread workers**: a sync worker is held by one client that sends its headers slowly (two
  such sockets took a 2-worker site down). A gthread worker waits for a connection's first
  bytes in its poller and gives each request a thread, so a slow client holds one thread of
  ``threads``, not the worker. ``tests/test_serving.py`` opens slow sockets against a real
  server and times a normal request. On the open internet put a buffering reverse proxy
  (nginx, HAProxy) in front as well: it reads whole requests before passing them on.
- **access log without secrets**: query values named ``token`` (a wall screen's first visit,
  ``/wall?token=…``) are written as ``token=[redacted]`` in the access log.
"""
import re

from gunicorn.glogging import Logger

worker_class = "gthread"
threads = 16
keepalive = 5

_SECRET_PARAM = re.compile(r"((?:^|[?&;])token=)[^&;#\s]*", re.IGNORECASE)


def redact(text):
    return _SECRET_PARAM.sub(r"\1[redacted]", text) if isinstance(text, str) else text


class RedactingLogger(Logger):
    """Gunicorn's logger with device tokens removed from the logged request line and query."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "f", "{referer}i"):
            if key in atoms:
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger
