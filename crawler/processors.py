"""Tiny named value -> value cleaning functions, shared by page functions and pipelines."""

from __future__ import annotations

import re

_NEWLINES = str.maketrans("", "", "\r\n")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def tsv_value(value: object) -> str:
    """One TSV value: ``NULL`` when empty, ``\\r``/``\\n`` removed, a TAB turned into a space."""
    if value is None:
        return "NULL"
    text = str(value).translate(_NEWLINES).replace("\t", " ")
    return text if text else "NULL"


def tsv_row(values: list[object]) -> str:
    """A row in the golden layout: each value followed by a TAB (so the row ends with one)."""
    return "".join(tsv_value(v) + "\t" for v in values)


def ynj_date(text: str | None) -> str | None:
    """``2018-01-07`` or ``2018-1-7 10:11`` -> ``2018-1-7`` (Discuz's unpadded ``Y-n-j``); None if absent."""
    if not text:
        return None
    m = _YMD.search(text)
    if not m:
        return None
    # Discuz shows what it stored, even an impossible date: keep it as shown, unpadded.
    y, mo, d = (int(g) for g in m.groups())
    return f"{y}-{mo}-{d}"


def one_line(text: str | None) -> str | None:
    """Remove ``\\r`` and ``\\n`` (and only those); None stays None."""
    if text is None:
        return None
    return text.translate(_NEWLINES)
