"""A real server and a real browser, shared by the browser tests and the benchmarks:
gunicorn on a free loopback port in a subprocess, and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "screenshots"  # browser tests' screenshots (ignored by git); look at them
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As root Chromium needs --no-sandbox; the rest keep it from calling out of this offline machine.
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn app:server` for one mode and environment; start() waits until it answers."""

    def __init__(self, mode: str = "all", *, env: dict | None = None, workers: int = 2,
                 args: tuple[str, ...] = (), output=subprocess.DEVNULL):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {}), "CITYOPS_MODE": mode}
        self.cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", str(workers),
                    "-b", f"127.0.0.1:{self.port}", *args, "app:server"]
        self.output = output
        self.proc: subprocess.Popen | None = None

    def start(self, attempts: int = 150) -> "Gunicorn":
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.output,
                                     stderr=subprocess.STDOUT if self.output is subprocess.PIPE else self.output)
        for _ in range(attempts):
            try:
                urllib.request.urlopen(self.base + "/_dash-layout", timeout=2)
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn ({self.env['CITYOPS_MODE']}) did not answer on {self.base}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)


def record_errors(page):
    """Collect console errors and uncaught exceptions in `page.errors`."""
    page.errors = []
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def require_chromium(pytest) -> None:
    """Browser test modules call this at import: a missing Chromium fails in CI, skips elsewhere."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            raise RuntimeError("Chromium is required in CI (make test installs it)")
        pytest.skip("chromium is not installed (make test installs it when root)", allow_module_level=True)


@contextlib.contextmanager
def var_dir_of(path):
    """Run ops-store code (users, tokens) against another var dir than the test session's."""
    old = os.environ.get("CITYOPS_VAR_DIR")
    os.environ["CITYOPS_VAR_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CITYOPS_VAR_DIR", None)
        else:
            os.environ["CITYOPS_VAR_DIR"] = old


def ensure_user(var_dir, username: str = "browser-admin", password: str = "browser-password-1",
                role: str = "admin", districts: str = "") -> tuple[str, str]:
    from data import users

    with var_dir_of(var_dir):
        if users.get(username) is None:
            users.add(username, password, role, districts)
    return username, password


def wall_token(var_dir, name: str = "browser-wall") -> str:
    from data import users

    with var_dir_of(var_dir):
        return users.add_token(name)[1]


def sign_in(page, base: str, var_dir=None, username: str | None = None, password: str | None = None) -> None:
    """Sign `page`'s browser context in through the real /login form (as an admin by default)."""
    if username is None:
        username, password = ensure_user(var_dir or os.environ["CITYOPS_VAR_DIR"])
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if "/login" in page.url:
        raise RuntimeError(f"sign-in as {username} failed: {page.inner_text('body')[:200]}")


def signed_in(app, username: str, password: str):
    """A Flask test client signed in through /login, sending the CSRF header like Dash does."""
    client = app.server.test_client()
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": _login_csrf(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    client.get("/login")  # any response to a signed-in caller sets the _csrf_token cookie
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None
    client.environ_base["HTTP_X_CSRFTOKEN"] = cookie.value
    return client


def _login_csrf(client) -> str:
    import re

    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@contextlib.contextmanager
def running(mode: str = "all", **kwargs):
    """A started Gunicorn for a `with` block (module fixtures): yields its base URL."""
    gunicorn = Gunicorn(mode, **kwargs).start()
    try:
        yield gunicorn.base
    finally:
        gunicorn.stop()


def settle(page, selector: str, timeout: float = 30_000) -> None:
    """Wait until `selector` is on the page, the network is idle and no Dash callback is running."""
    page.wait_for_selector(selector, timeout=timeout)
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('._dash-loading-callback')", timeout=timeout)


def shot(page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot as tests/screenshots/<name>.png; a nearly empty file fails (a blank page)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 5_000
    return path
