"""The snapshot store: where the publisher puts every release so that several app hosts serve
the same versions (``snapshot_store``: a directory every host mounts, e.g. NFS; empty = one
machine, the var dir is the store).

Layout in the store is the var dir's: ``CURRENT.json``, ``snapshots/ops-<version>.duckdb``,
``public/public-<version>.duckdb``.

* **Publisher** (:func:`push`, called by ``data.publish`` after its local flip): copies the two
  release files into the store (temp name, fsync, rename: a reader never sees half a file),
  then replaces the store's ``CURRENT.json`` the same way — so the store's pointer only ever
  names complete files. Old versions beyond ``snapshot_keep`` + 1 are removed from the store.
* **App host** (:func:`pull`, called by ``data.snapshot`` when its poll is due): when the
  store's pointer names a newer version than the host's own ``CURRENT.json``, one worker (a
  file lock; the others keep serving and look again at their next poll) copies the files this
  process may open (the public site: the public release only) into the host's var dir the same
  way and then flips the host's own pointer. From there the single-machine rules hold
  unchanged: each worker opens the new file at its next poll, never goes backwards, and pins
  one version per request. Local copies beyond ``snapshot_keep`` + 1 versions are removed
  (an open file stays readable to a worker still holding it).

A store that cannot be read (the mount is gone) leaves the host serving what it has; the
failure is logged once per cause.

**S3-compatible object store** (``snapshot_store = s3://bucket/prefix``, through boto3;
``snapshot_store_endpoint`` for MinIO-like stores; credentials from boto3's usual chain, e.g.
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``): the same layout under the prefix, the same
order. The publisher uploads the version's two files first and the ``CURRENT.json`` object last
(an object becomes visible only once its upload completes); a host reads that object, downloads
each file it names to a temp file beside its local copy, checks each against the pointer's byte
count, and only then renames them into place and flips its own pointer. A pointer whose files
are missing or of another size (a version still uploading, or damaged) is not switched to: the
host keeps serving what it has and looks again at its next poll.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from pathlib import Path

from data import releases, settings
from data import snapshot_s3 as s3

log = logging.getLogger(__name__)
_logged: set[str] = set()
_seen: dict = {}  # pid -> the store pointer's (inode, mtime, size) last found not newer


def configured() -> Path | s3.Location | None:
    """The store: a directory, an S3 location (``s3://bucket/prefix``), or None (one machine)."""
    value = str(settings.get("snapshot_store") or "").strip()
    if not value:
        return None
    if value.lower().startswith("s3://"):
        return s3.Location.parse(value)
    path = Path(value)
    return path if path.is_absolute() else settings.ROOT / path


def _read_pointer(path: Path) -> dict | None:
    try:
        return valid_pointer(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def valid_pointer(text: str | bytes) -> dict | None:
    """The pointer in `text` if it is one and names only files of the release layout."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not {"version", "ops", "public"} <= set(data):
        return None
    if not all(isinstance(data[k], str) and releases._RELEASE.match(Path(data[k]).name)
               and Path(data[k]).parent.name == releases.FOLDERS[k] for k in releases.FOLDERS):
        return None  # names only files of the release layout (no ../ from a tampered pointer)
    return data


def _copy(src: Path, dst: Path, size: int | None = None) -> None:
    """src → dst atomically (temp beside dst, fsync, rename); `size` checked when given."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 4 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        if size is not None and tmp.stat().st_size != size:
            raise OSError(f"{src}: {tmp.stat().st_size} bytes, the pointer says {size}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _write_pointer(path: Path, pointer: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(pointer, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _prune(root: Path, current: str, keep: int) -> None:
    for _db, folder in releases.FOLDERS.items():
        try:
            names = sorted((p for p in (root / folder).iterdir() if releases._RELEASE.match(p.name)),
                           key=lambda p: releases._RELEASE.match(p.name).group("version"), reverse=True)
        except OSError:
            continue
        older = [p for p in names if releases._RELEASE.match(p.name).group("version") < current]
        for path in older[keep:]:
            path.unlink(missing_ok=True)


def push(pointer: dict) -> None:
    """Publisher: put the release `pointer` names (files in the var dir) into the store, then
    its pointer. Raises when the store cannot be written (the publish reports it)."""
    store = configured()
    if store is None:
        return
    if isinstance(store, s3.Location):
        s3.push(store, pointer, int(settings.get("snapshot_keep")) + 1)
        return
    var = settings.var_dir()
    for db in releases.FOLDERS:
        dst = store / pointer[db]
        if db == "ops":
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.parent.chmod(0o700)  # ops snapshots hold records: not for the public site's user
        if not dst.exists():
            _copy(var / pointer[db], dst, (pointer.get("bytes") or {}).get(db))
    _write_pointer(store / releases.POINTER, pointer)
    _prune(store, str(pointer["version"]), int(settings.get("snapshot_keep")) + 1)


def _log_once(message: str) -> None:
    if message not in _logged:
        _logged.add(message)
        log.error("%s", message)


def pull(dbs=("ops", "public")) -> bool:
    """App host: bring the host's var dir up to the store's newest release (the files of `dbs`
    only). True if this call flipped the host's pointer. Never raises."""
    store = configured()
    if store is None:
        return False
    if isinstance(store, s3.Location):
        return _pull_s3(store, dbs)
    store_pointer_path = store / releases.POINTER
    try:
        st = os.stat(store_pointer_path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError as exc:
        _log_once(f"snapshot store {store}: no pointer to read ({exc.strerror or exc})")
        return False
    if _seen.get(os.getpid()) == stamp:
        return False
    wanted = _read_pointer(store_pointer_path)
    if wanted is None:
        return False
    return _take(store, stamp, wanted, dbs, lambda name, dst, size: _copy(store / name, dst, size))


def _take(store, stamp, wanted: dict, dbs, fetch, errors=(OSError,)) -> bool:
    """The steps after reading a store's pointer (`wanted`, and `stamp`, what says it is
    unchanged), the same for a directory and an object store: one worker of the host (a file
    lock) fetches every missing file of `dbs` complete and in place (`fetch(name, dst, size)`),
    and only then flips the host's pointer and prunes its old versions."""
    local = releases.read_pointer()
    if local is not None and str(local["version"]) >= str(wanted["version"]):
        _seen[os.getpid()] = stamp
        return False
    var = settings.var_dir()
    var.mkdir(parents=True, exist_ok=True)
    fd = os.open(var / ".snapshot-sync.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another worker of this host is copying it
        local = releases.read_pointer()
        if local is not None and str(local["version"]) >= str(wanted["version"]):
            return False
        sizes = wanted.get("bytes") if isinstance(wanted.get("bytes"), dict) else {}
        for db in dbs:  # every file complete and in place before the pointer names it
            dst = var / wanted[db]
            dst.parent.mkdir(parents=True, exist_ok=True)
            if db == "ops":
                dst.parent.chmod(0o700)
            if not dst.exists():
                size = sizes.get(db)
                fetch(wanted[db], dst, size if isinstance(size, int) else None)
        _write_pointer(releases.pointer_path(), wanted)
        _prune(var, str(wanted["version"]), int(settings.get("snapshot_keep")) + 1)
        _seen[os.getpid()] = stamp
        log.info("snapshot store: now serving %s", wanted["version"])
        return True
    except errors as exc:
        _log_once(f"snapshot store {store}: could not copy release {wanted['version']} ({exc})")
        return False
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _pull_s3(store: s3.Location, dbs) -> bool:
    """pull() from an S3 store: the same steps, the pointer object's ETag as its stamp."""
    try:
        stamp, wanted = s3.read_pointer(store)
    except s3.StoreError as exc:
        _log_once(f"snapshot store {store}: no pointer to read ({exc})")
        return False
    if _seen.get(os.getpid()) == stamp:
        return False
    wanted = valid_pointer(wanted) if wanted is not None else None
    if wanted is None:
        return False
    return _take(store, stamp, wanted, dbs, lambda name, dst, size: s3.download(store, name, dst, size),
                 errors=(OSError, s3.StoreError))
