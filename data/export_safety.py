"""Cells of exported files that a spreadsheet would run as formulas.

A CSV or Excel cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is taken as a formula by Excel, LibreOffice and Google Sheets (311 free text, a district
or facility name, a category: ``=HYPERLINK(...)``, ``=cmd|'/C calc'!A0``). Every CSV export and
download writes such text with a leading apostrophe (OWASP's advice: the sheet shows it as
text); Excel exports store every text cell as a string cell, never a formula. Numbers are
numbers (a negative value stays ``-3.5``)."""
from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """`value` with a leading apostrophe when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def frame(data: pd.DataFrame) -> pd.DataFrame:
    """A copy of `data` whose text cells are neutralised (numbers and dates untouched)."""
    out = data.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(cell)
    return out


def inert_sheet(sheet) -> None:
    """openpyxl: store every text cell of `sheet` as a string, so none is a live formula."""
    for row in sheet.iter_rows():
        for item in row:
            if item.data_type == "f" or (isinstance(item.value, str) and item.value.startswith(FORMULA_START)):
                item.data_type = "s"
