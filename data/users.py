"""Users and wall device tokens of the ops site, kept in the ops store, and the CLI that
manages them.

    python -m data.users add alice --role official --districts 101,102   # asks for a password
    python -m data.users add bob --role analyst --password-stdin < pw.txt
    python -m data.users list | disable NAME | enable NAME | reset NAME | remove NAME
    python -m data.users token-add lobby-wall        # prints the token once
    python -m data.users token-list | token-revoke ID

    python -m data.users token-rotate ID             # a new token for the same screen; the old one stops

Passwords are stored as salted scrypt hashes (werkzeug); device tokens as SHA-256 hashes of
32 random bytes (the token is shown once) and expire after ``CITYOPS_WALL_TOKEN_DAYS``.

Sessions are server-side: a sign-in (or a wall screen's first visit with its token) creates a
row in the ops store holding the SHA-256 of a random session id, and the signed cookie carries
only that id. Signing out, disabling, resetting the password and removing the user delete the
rows, so a cookie copied before stops working at once, and a user re-created under the same
name starts with none. Failed sign-ins are counted per account name: after
``LOCK_AFTER`` in a row the account is refused for a back-off that doubles with each further
failure (30 s up to 15 min), whatever the password and the address.
"""
from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from data import access, ops_store, settings

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
DISTRICT = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
TOKEN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")
MIN_PASSWORD = 10
# A hash to compare against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
LOCK_AFTER = 5            # failed sign-ins in a row before an account backs off
LOCK_BASE_S = 30          # the first back-off; doubles with each further failure
LOCK_MAX_S = 900
FORGET_FAILURES = timedelta(days=1)


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    username: str
    role: str
    districts: frozenset[str] | str
    disabled: bool
    session_epoch: int

    def principal(self) -> access.Principal:
        return access.Principal("user", self.username, self.role, self.districts)


def _clock() -> datetime:
    return datetime.now()


def _now() -> str:
    return _clock().isoformat(timespec="seconds")


def create_secret_file(path: Path, text: str) -> str:
    """Create `path` holding `text` (mode 600 from the start) unless it exists, and return what
    it holds. The text goes to a private temporary file first, which is then hard-linked into
    place: atomic, and it fails when another process won the race, so no reader ever sees the
    file empty or half written, and no one sees it with the umask's mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8")


def _parse_districts(text: str) -> frozenset[str] | str:
    text = (text or "").strip()
    if text == access.ALL:
        return access.ALL
    return frozenset(d for d in text.split(",") if d)


def _check(username: str, role: str, districts: str) -> None:
    if not isinstance(username, str) or not USERNAME.match(username):
        raise UserError("username: 2-64 characters, lower-case letters, digits and . _ @ -")
    if role not in access.ROLES:
        raise UserError(f"role must be one of {', '.join(access.ROLES)}")
    if districts != access.ALL and not all(DISTRICT.match(d) for d in districts.split(",") if d):
        raise UserError("districts: '*' or a comma-separated list of district ids")
    if role == "official" and not districts:
        raise UserError("an official needs --districts (ids, or '*' for all)")


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")


def add(username: str, password: str, role: str, districts: str = "") -> User:
    districts = access.ALL if role in ("admin", "analyst") and not districts else districts
    _check(username, role, districts)
    _check_password(password)
    with ops_store.connect() as con:
        if con.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise UserError(f"user {username!r} exists")
        con.execute("INSERT INTO users (username, password_hash, role, districts, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (username, generate_password_hash(password), role, districts, _now(), _now()))
    return get(username)


def get(username: str) -> User | None:
    if not isinstance(username, str) or not USERNAME.match(username):
        return None
    with ops_store.connect() as con:
        row = con.execute("SELECT username, role, districts, disabled, session_epoch FROM users "
                          "WHERE username = ?", (username,)).fetchone()
    if row is None:
        return None
    return User(row[0], row[1], _parse_districts(row[2]), bool(row[3]), int(row[4]))


def authenticate(username: str, password: str) -> User | None:
    """The user if the password is right and the account enabled; None otherwise."""
    row = None
    if isinstance(username, str) and USERNAME.match(username):
        with ops_store.connect() as con:
            row = con.execute("SELECT password_hash, disabled FROM users WHERE username = ?",
                              (username,)).fetchone()
    ok = check_password_hash(row[0] if row else _DUMMY_HASH, password if isinstance(password, str) else "")
    if not ok or row is None or row[1]:
        return None
    return get(username)


def locked_for(username: str) -> int:
    """Seconds this account name must still wait before a sign-in is tried (0: none)."""
    if not isinstance(username, str) or not USERNAME.match(username):
        return 0
    with ops_store.connect() as con:
        row = con.execute("SELECT locked_until FROM login_failures WHERE username = ?", (username,)).fetchone()
    if row is None or row[0] is None:
        return 0
    left = (datetime.fromisoformat(row[0]) - _clock()).total_seconds()
    return max(0, int(left + 0.999))


def _failed(username: str) -> None:
    now = _clock()
    with ops_store.connect() as con:
        row = con.execute("SELECT failures, last_at FROM login_failures WHERE username = ?", (username,)).fetchone()
        failures = 1 if row is None or now - datetime.fromisoformat(row[1]) > FORGET_FAILURES else row[0] + 1
        locked = None
        if failures >= LOCK_AFTER:
            wait = min(LOCK_MAX_S, LOCK_BASE_S * 2 ** min(failures - LOCK_AFTER, 10))
            locked = (now + timedelta(seconds=wait)).isoformat(timespec="seconds")
        con.execute("INSERT INTO login_failures VALUES (?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET "
                    "failures = excluded.failures, last_at = excluded.last_at, locked_until = excluded.locked_until",
                    (username, failures, now.isoformat(timespec="seconds"), locked))
        if now.minute == 0:  # now and then: forget old failures of names nobody uses
            con.execute("DELETE FROM login_failures WHERE last_at < ?",
                        ((now - FORGET_FAILURES).isoformat(timespec="seconds"),))


def sign_in(username: str, password: str) -> tuple[User | None, int]:
    """(user, 0) for the right password of an enabled account that is not backing off;
    (None, seconds to wait) while it backs off (the password is not even checked); (None, 0)
    otherwise. Every failure counts against the account name, whoever sends it."""
    if not isinstance(username, str) or not USERNAME.match(username):
        authenticate(username, password)  # same time as a real check
        return None, 0
    wait = locked_for(username)
    if wait:
        _failed(username)
        return None, locked_for(username)
    user = authenticate(username, password)
    if user is None:
        _failed(username)
        return None, locked_for(username)
    with ops_store.connect() as con:
        con.execute("DELETE FROM login_failures WHERE username = ?", (username,))
    return user, 0


# --- sessions -----------------------------------------------------------------------------

def open_session(kind: str, subject: str, epoch: int = 0, hours: float | None = None) -> str:
    """A new server-side session for a user ('user', username) or a wall screen ('device',
    token id); returns its id for the cookie (only its hash is stored)."""
    sid = secrets.token_urlsafe(32)
    now = _clock()
    hours = float(settings.get("session_hours")) if hours is None else hours
    with ops_store.connect() as con:
        con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                    (_token_hash(sid), kind, subject, int(epoch), now.isoformat(timespec="seconds"),
                     (now + timedelta(hours=hours)).isoformat(timespec="seconds")))
        if now.minute == 0:  # now and then: drop expired sessions
            con.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(timespec="seconds"),))
    return sid


def session(kind: str, sid) -> tuple[str, int] | None:
    """(subject, epoch) of a live session of `kind`; None if unknown, ended or expired."""
    if not isinstance(sid, str) or not 20 <= len(sid) <= 100:
        return None
    with ops_store.connect() as con:
        row = con.execute("SELECT subject, epoch, expires_at FROM sessions WHERE session_hash = ? AND kind = ?",
                          (_token_hash(sid), kind)).fetchone()
    if row is None or datetime.fromisoformat(row[2]) <= _clock():
        return None
    return row[0], int(row[1])


def close_session(sid) -> None:
    if isinstance(sid, str) and sid:
        with ops_store.connect() as con:
            con.execute("DELETE FROM sessions WHERE session_hash = ?", (_token_hash(sid),))


def _update(username: str, sql: str, *values) -> None:
    with ops_store.connect() as con:
        cur = con.execute(sql, (*values, _now(), username))
        if cur.rowcount == 0:
            raise UserError(f"no user {username!r}")
        con.execute("DELETE FROM sessions WHERE kind = 'user' AND subject = ?", (username,))


def set_disabled(username: str, disabled: bool) -> None:
    _update(username, "UPDATE users SET disabled = ?, session_epoch = session_epoch + 1, updated_at = ? "
            "WHERE username = ?", int(disabled))


def reset_password(username: str, password: str) -> None:
    _check_password(password)
    _update(username, "UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1, updated_at = ? "
            "WHERE username = ?", generate_password_hash(password))


def remove(username: str) -> None:
    with ops_store.connect() as con:
        if con.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount == 0:
            raise UserError(f"no user {username!r}")
        con.execute("DELETE FROM sessions WHERE kind = 'user' AND subject = ?", (username,))
        con.execute("DELETE FROM login_failures WHERE username = ?", (username,))


def all_users() -> list[User]:
    with ops_store.connect() as con:
        names = [r[0] for r in con.execute("SELECT username FROM users ORDER BY username")]
    return [get(n) for n in names]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(name: str) -> tuple[str, str]:
    """A new device token for a wall screen: (token_id, token). The token is not stored."""
    if not isinstance(name, str) or not TOKEN_NAME.match(name):
        raise UserError("token name: 2-41 characters, lower-case letters, digits and -")
    token_id, token = secrets.token_hex(4), secrets.token_urlsafe(32)
    with ops_store.connect() as con:
        con.execute("INSERT INTO device_tokens VALUES (?, ?, ?, ?, NULL)",
                    (token_id, _token_hash(token), name, _now()))
    return token_id, token


def _token_expired(created_at: str) -> bool:
    return datetime.fromisoformat(created_at) + timedelta(days=float(settings.get("wall_token_days"))) <= _clock()


def device_id(token: str) -> str | None:
    """The id of a valid token (unrevoked, not expired); None otherwise."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    with ops_store.connect() as con:
        row = con.execute("SELECT token_id, created_at FROM device_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                          (_token_hash(token),)).fetchone()
    return None if row is None or _token_expired(row[1]) else row[0]


def device_by_id(token_id) -> access.Principal | None:
    """The device principal of token `token_id` while it is valid; None otherwise."""
    if not isinstance(token_id, str) or not token_id:
        return None
    with ops_store.connect() as con:
        row = con.execute("SELECT token_id, name, created_at FROM device_tokens WHERE token_id = ? "
                          "AND revoked_at IS NULL", (token_id,)).fetchone()
    if row is None or _token_expired(row[2]):
        return None
    return access.Principal("device", f"{row[1]} ({row[0]})", "device", access.ALL)


def device(token: str) -> access.Principal | None:
    """The device principal of a valid token (unrevoked, not expired); None otherwise."""
    return device_by_id(device_id(token))


def rotate_token(token_id: str) -> tuple[str, str]:
    """A new token for the same screen name; the old one is revoked (its screen needs the new one)."""
    with ops_store.connect() as con:
        row = con.execute("SELECT name FROM device_tokens WHERE token_id = ? AND revoked_at IS NULL",
                          (token_id,)).fetchone()
    if row is None:
        raise UserError(f"no active token {token_id!r}")
    new = add_token(row[0])
    revoke_token(token_id)
    return new


def revoke_token(token_id: str) -> None:
    with ops_store.connect() as con:
        if con.execute("UPDATE device_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                       (_now(), token_id)).rowcount == 0:
            raise UserError(f"no active token {token_id!r}")
        con.execute("DELETE FROM sessions WHERE kind = 'device' AND subject = ?", (token_id,))


def tokens() -> list[tuple]:
    with ops_store.connect() as con:
        return con.execute("SELECT token_id, name, created_at, revoked_at FROM device_tokens "
                           "ORDER BY created_at").fetchall()


def ensure_demo_admin() -> str | None:
    """For the local demo only: with no user at all, create 'admin' with a random password,
    write it to <var>/ADMIN_PASSWORD (mode 600) and return it."""
    if all_users():
        return None
    password = secrets.token_urlsafe(12)
    add("admin", password, "admin")
    path = settings.var_dir() / "ADMIN_PASSWORD"
    path.unlink(missing_ok=True)  # a stale one from a removed store
    create_secret_file(path, password + "\n")  # mode 600 from the start
    return password


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise UserError("passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.users", description="Manage ops-site users and wall tokens.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("add", help="add a user")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=access.ROLES)
    p.add_argument("--districts", default="", help="official: comma-separated district ids, or '*'")
    p.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable", "remove"):
        sub.add_parser(name, help=f"{name} a user").add_argument("username")
    p = sub.add_parser("reset", help="set a new password (ends the user's sessions)")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    sub.add_parser("list", help="list users")
    sub.add_parser("token-add", help="create a wall device token").add_argument("name")
    sub.add_parser("token-revoke", help="revoke a wall device token").add_argument("token_id")
    sub.add_parser("token-rotate", help="replace a wall device token (prints the new one once)").add_argument(
        "token_id")
    sub.add_parser("token-list", help="list wall device tokens")
    sub.add_parser("ensure-demo-admin", help="demo only: create 'admin' if there is no user")
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            add(args.username, _password(args), args.role, args.districts)
            print(f"added {args.username} ({args.role})")
        elif args.command in ("disable", "enable"):
            set_disabled(args.username, args.command == "disable")
            print(f"{args.command}d {args.username}")
        elif args.command == "remove":
            remove(args.username)
            print(f"removed {args.username}")
        elif args.command == "reset":
            reset_password(args.username, _password(args))
            print(f"new password set for {args.username}; their sessions have ended")
        elif args.command == "list":
            print(f"{'user':<24} {'role':<9} {'districts':<20} status")
            for u in all_users():
                scope = u.districts if u.districts == access.ALL else ",".join(sorted(u.districts)) or "-"
                print(f"{u.username:<24} {u.role:<9} {scope:<20} {'disabled' if u.disabled else 'active'}")
        elif args.command == "token-add":
            token_id, token = add_token(args.name)
            print(f"token {token_id} for {args.name} (shown once):\n{token}\n"
                  f"wall URL: /wall?token={token}")
        elif args.command == "token-rotate":
            token_id, token = rotate_token(args.token_id)
            print(f"token {token_id} replaces {args.token_id} (shown once):\n{token}\n"
                  f"wall URL: /wall?token={token}")
        elif args.command == "token-revoke":
            revoke_token(args.token_id)
            print(f"revoked {args.token_id}")
        elif args.command == "token-list":
            for token_id, name, created, revoked in tokens():
                state = ("revoked " + revoked if revoked else "expired" if _token_expired(created)
                         else "active until " + (datetime.fromisoformat(created) + timedelta(
                             days=float(settings.get("wall_token_days")))).isoformat(timespec="minutes"))
                print(f"{token_id}  {name:<30} created {created}  {state}")
        elif args.command == "ensure-demo-admin":
            password = ensure_demo_admin()
            path = settings.var_dir() / "ADMIN_PASSWORD"
            print(f"demo login: admin / {password} (also in {path})" if password
                  else "users exist; nothing created")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
