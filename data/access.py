"""Who is asking, and what they may see: the principal of the current request and the
district scope the data layer applies to every ops query.

The web layer (``data/web/sign_in.py``) resolves the caller of each request into a
:class:`Principal` and sets it here for the duration of the request; the repository asks
:func:`current` before it returns rows from the ops snapshot. District scoping is
**default-deny**: with no principal (or a principal with no districts) an ops query that
returns a ``district_id`` column returns no district rows at all. Command-line tools
(publish, bench) and tests that read the snapshot directly say so with :func:`system`.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

import pandas as pd

from data import settings

ALL = "*"  # every district

# What each role may do. "wall": wall pages and their callbacks; "read": the ops pages;
# "records": row-level records (311 requests) behind a number; "annotate": add annotations;
# "admin": manage users and device tokens.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"wall", "read", "records", "annotate", "admin"}),
    "official": frozenset({"wall", "read", "records", "annotate"}),
    "analyst": frozenset({"wall", "read", "records"}),
    "device": frozenset({"wall"}),
    "system": frozenset({"wall", "read", "records", "annotate", "admin"}),
}
ROLES = ("admin", "official", "analyst")
PERMISSIONS = ("public", "wall", "read", "records", "annotate", "admin")


class AccessDenied(PermissionError):
    """The caller may not do this (HTTP 403, or 401 when nobody is logged in)."""


@dataclass(frozen=True)
class Principal:
    kind: str  # "user", "device" or "system"
    name: str
    role: str
    districts: frozenset[str] | str = field(default_factory=frozenset)  # ALL or a set of ids

    def can(self, permission: str) -> bool:
        if permission == "records" and self.role == "analyst" and not settings.get("analyst_records"):
            return False  # a city may keep record-level data from analysts
        return permission == "public" or permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    def sees(self, district_id: str) -> bool:
        if district_id == "city":
            return True  # city-wide aggregates are visible to every signed-in caller
        return self.districts == ALL or district_id in self.districts


SYSTEM = Principal("system", "system", "system", ALL)
_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("cityops_principal", default=None)


def current() -> Principal | None:
    return _current.get()


def set_current(principal: Principal | None) -> contextvars.Token:
    return _current.set(principal)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


@contextlib.contextmanager
def acting_as(principal: Principal | None):
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)


def system():
    """For command-line tools and tests that read the ops snapshot outside a web request."""
    return acting_as(SYSTEM)


def require(permission: str) -> Principal | None:
    """The current principal if it has `permission`; AccessDenied otherwise."""
    if permission == "public":
        return current()
    principal = current()
    if principal is None:
        raise AccessDenied("sign in required")
    if not principal.can(permission):
        raise AccessDenied(f"{principal.role} may not {permission}")
    return principal


def scope_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Default-deny district scoping of a query result: rows of districts the caller may not
    see are removed; with no principal every district row is removed."""
    if "district_id" not in frame.columns:
        return frame
    principal = current()
    if principal is not None and principal.districts == ALL:
        return frame
    if principal is None:
        keep = pd.Series(False, index=frame.index)
    else:  # a row with no district is city-wide
        keep = frame["district_id"].isna() | frame["district_id"].isin({"city", *principal.districts})
    return frame if bool(keep.all()) else frame[keep].reset_index(drop=True)
