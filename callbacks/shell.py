"""The shell's data-status line: data version and publish time, or 'no data'."""
from __future__ import annotations

import dash
from dash import Input, Output

from callbacks import auth
from callbacks.common import db_for_mode
from data import repository
from data.snapshot import DataUnavailable
from layouts import ids


@dash.callback(Output(ids.SHELL_STATUS, "children"), Input(ids.SHELL_POLL, "n_intervals"))
@auth.requires("public")
def data_status(_n):
    try:
        meta = repository.run(f"{db_for_mode()}/meta")
    except DataUnavailable:
        return "⚠ No data published yet"
    published = meta["published_at"].iloc[0]
    return f"Data published {published:%d %b %H:%M:%S} · version {meta['version'].iloc[0]}"
