"""Callbacks: one module per page, module-level ``@dash.callback`` functions.

``load(mode)`` imports the callbacks of the pages the mode serves (and the shell's), so the
public process registers public callbacks only.
"""
from __future__ import annotations

import importlib
import pkgutil

from data.settings import AUDIENCES


def load(mode: str) -> list[str]:
    loaded = [importlib.import_module("callbacks.shell").__name__]
    for audience in AUDIENCES[mode]:
        package = importlib.import_module(f"callbacks.{audience}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            loaded.append(importlib.import_module(f"callbacks.{audience}.{info.name}").__name__)
    return loaded
