"""Users and wall device tokens of the ops site, kept in the ops store, and the CLI that
manages them.

    python -m data.users add alice --role official --districts 101,102   # asks for a password
    python -m data.users add bob --role analyst --password-stdin < pw.txt
    python -m data.users list | disable NAME | enable NAME | reset NAME | remove NAME
    python -m data.users token-add lobby-wall        # prints the token once
    python -m data.users token-list | token-revoke ID

Passwords are stored as salted scrypt hashes (werkzeug); device tokens as SHA-256 hashes of
32 random bytes (the token is shown once). Disabling a user or resetting the password ends
their sessions (the session epoch changes).
"""
from __future__ import annotations

import argparse
import getpass
import hashlib
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime

from werkzeug.security import check_password_hash, generate_password_hash

from data import access, ops_store, settings

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
DISTRICT = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
TOKEN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")
MIN_PASSWORD = 10
# A hash to compare against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


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


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


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


def _update(username: str, sql: str, *values) -> None:
    with ops_store.connect() as con:
        cur = con.execute(sql, (*values, _now(), username))
        if cur.rowcount == 0:
            raise UserError(f"no user {username!r}")


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


def device(token: str) -> access.Principal | None:
    """The device principal of a valid, unrevoked token; None otherwise."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    with ops_store.connect() as con:
        row = con.execute("SELECT token_id, name FROM device_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                          (_token_hash(token),)).fetchone()
    return None if row is None else access.Principal("device", f"{row[1]} ({row[0]})", "device", access.ALL)


def revoke_token(token_id: str) -> None:
    with ops_store.connect() as con:
        if con.execute("UPDATE device_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                       (_now(), token_id)).rowcount == 0:
            raise UserError(f"no active token {token_id!r}")


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
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
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
        elif args.command == "token-revoke":
            revoke_token(args.token_id)
            print(f"revoked {args.token_id}")
        elif args.command == "token-list":
            for token_id, name, created, revoked in tokens():
                print(f"{token_id}  {name:<30} created {created}  {'revoked ' + revoked if revoked else 'active'}")
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
