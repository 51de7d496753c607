"""The release auditor's answers kept between publishes, one small file per audited block.

A block's answer (``data.privacy.audit_release``: the withheld mask of its own cells, and the
reports of the metrics it could not protect) is a pure function of the block: its cells (true
figures included), their incoming flags, the metric definitions that write its equations, k,
the protection width and the auditor's own version (``AUDIT_VERSION``). The key is a digest of
all of them, so a block whose inputs did not change between two publishes — every closed block
of a daily publish, and every held-back one — is answered from here, even by a new process;
late data, a changed metric or a new auditor changes the key, and the block is solved again.

Files live in ``<var_dir>/audit/<key>.npz`` (folder 0700, files 0600: a mask says which true
figures are small, held-back blocks included), written atomically (temp file, ``os.replace``). A file that cannot be read is ignored
and the block solved again: the cache can only save work, never decide what is published.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

# Bump when the auditor's equations, bounds or checks change: earlier answers no longer apply.
AUDIT_VERSION = "2026-12-03"


class Store:
    """Answers by key in one folder (created on first write)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> tuple[np.ndarray, list[dict]] | None:
        """The withheld mask and the failure reports kept for `key`, or None."""
        try:
            with np.load(self._path(key), allow_pickle=False) as data:
                mask = np.asarray(data["withheld"], bool)
                failures = json.loads(str(data["failures"]))
        except (OSError, ValueError, KeyError):
            return None
        return mask, failures

    def put(self, key: str, withheld: np.ndarray, failures: list[dict]) -> None:
        """Keep the answer for `key` (best effort: a full disk only costs a later re-audit)."""
        buffer = io.BytesIO()
        np.savez(buffer, withheld=np.asarray(withheld, bool), failures=np.array(json.dumps(failures)))
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(buffer.getvalue())
                os.replace(tmp, self._path(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return
