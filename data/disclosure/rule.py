"""The per-group rule: primary suppression of small counts, complementary suppression within a
group (``flags``), then across grains (``data.disclosure.spans``); ``suppress`` applies both.
See ``data.privacy`` for the rule in words."""
from __future__ import annotations

import numpy as np
import pandas as pd

from data.disclosure.checks import GROUP, TOTAL_ID
from data.disclosure.spans import across_grains

WITHHELD = ["value", "numerator", "denominator", "n"]


def primary(n: pd.Series, k: int) -> pd.Series:
    """True where a count lies in [1, k-1] (nulls are not suppressed: there is no figure)."""
    values = pd.to_numeric(n, errors="coerce")
    return (values >= 1) & (values <= k - 1)


def flags(cells: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """Columns ``primary`` and ``complementary`` (bool) for `cells`, aligned with its index.

    `cells` needs ``metric_id, grain, period, district_id, n``; one row per cell.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    frame = cells[GROUP + ["district_id", "n"]].copy()
    frame["_n"] = pd.to_numeric(frame["n"], errors="coerce")
    frame["primary"] = primary(frame["_n"], k).fillna(False).astype(bool)
    frame["complementary"] = False
    if frame.empty:
        return frame[["primary", "complementary"]]
    frame["_g"] = frame.groupby(GROUP, sort=False, dropna=False).ngroup()
    is_total = frame["district_id"] == TOTAL_ID
    parts = frame[~is_total]
    totals = frame[is_total]
    # Groups whose total is published and exactly one district is withheld.
    withheld_parts = parts.groupby("_g")["primary"].sum()
    total_published = ~totals.groupby("_g")["primary"].any()
    exposed = withheld_parts[withheld_parts == 1].index
    exposed = exposed[total_published.reindex(exposed, fill_value=False).to_numpy()]
    if len(exposed):
        candidates = parts[parts["_g"].isin(exposed) & ~parts["primary"]].copy()
        # Prefer cells with records (n >= 1), then the smallest, then a stable id order.
        candidates["_empty"] = ~(candidates["_n"] >= 1)
        candidates = candidates.sort_values(["_g", "_empty", "_n", "district_id"], na_position="last")
        chosen = candidates.drop_duplicates("_g", keep="first")
        frame.loc[chosen.index, "complementary"] = True
        # No other district to hide behind: withhold the total instead.
        lonely = exposed.difference(chosen["_g"].unique())
        if len(lonely):
            frame.loc[totals.index[totals["_g"].isin(lonely)], "complementary"] = True
    return frame[["primary", "complementary"]]


def suppress(cells: pd.DataFrame, k: int = 10, *, time_additive: set[str] | frozenset = frozenset()) -> pd.DataFrame:
    """`cells` with a ``suppressed`` flag and the figures of suppressed cells set to null.

    Pure: returns a new frame, same rows in the same order. Columns of ``WITHHELD`` (and any
    ``ci_low``/``ci_high``) present in `cells` are nulled where suppressed. For metrics in
    `time_additive` (counts and sums: a month is the sum of its weeks when both start on the
    same Monday the 1st), ``across_grains`` then adds what the week/month equations need.
    """
    out = cells.copy()
    f = flags(cells, k)
    mask = (f["primary"] | f["complementary"]).to_numpy(bool)
    if time_additive:
        mask = across_grains(cells, mask, set(time_additive))
    for column in [*WITHHELD, "ci_low", "ci_high"]:
        if column in out.columns:
            if column == "n":
                out[column] = pd.array(out[column], dtype="Int64")
            else:
                out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
            out.loc[mask, column] = pd.NA if column == "n" else np.nan
    out["suppressed"] = mask
    return out
