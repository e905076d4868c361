"""Joins a day's TSV part files (one per worker of a distributed crawl) into ``{YYYY-MM-DD}.tsv``, each record once.

The ``scrapy merge-tsv`` command (``crawler/commands/merge-tsv.py``) runs :func:`main`; this module holds
the work as plain functions so tests call them directly.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class MergeError(ValueError):
    """The parts cannot be merged as they are; the message names the rows and what to do."""


@dataclass(frozen=True)
class Layout:
    """Where a record's id and its group (a post's thread) sit in a row, and how many values a row has."""

    columns: int
    key_at: int
    group_at: int = 0


@dataclass
class Merged:
    rows: list[str]
    """Whole rows (no newline) in merge order: by group, then key, numerically where they are numbers."""
    parts: list[Path]
    repeats: int = 0
    """Rows met again, identical, in another part (a record a worker took over from one that died after
    writing it but before marking it; or a part merged before): kept once."""
    where: dict[str, str] = field(default_factory=dict)


def parts_of(directory: Path, day: str) -> list[Path]:
    """The part files of ``day`` in ``directory`` (``{day}.{worker}.tsv``) and an earlier ``{day}.tsv``."""
    found = sorted(directory.glob(f"{day}.*.tsv"))
    whole = directory / f"{day}.tsv"
    return ([whole] if whole.exists() else []) + found


def _number_first(value: str) -> tuple[int, int, str]:
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def merge(parts: Sequence[Path], layout: Layout) -> Merged:
    """Every row of ``parts`` once, sorted; MergeError for a torn row or two different rows of one record."""
    by_key: dict[str, str] = {}
    where: dict[str, str] = {}
    repeats = 0
    for part in parts:
        with part.open("r", encoding="utf-8", newline="\n") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith("\n"):
                    raise MergeError(f"{part}:{number} has no newline at its end: a row cut short; "
                                     "remove it (its record is written again by the next crawl)")
                row = line[:-1]
                values = row.split("\t")
                if len(values) != layout.columns + 1 or values[-1]:
                    raise MergeError(f"{part}:{number} has {len(values) - 1} values, not {layout.columns}: "
                                     "not a row of this spider's TSV; move the file out of the directory")
                key = values[layout.key_at]
                seen = by_key.get(key)
                if seen is None:
                    by_key[key] = row
                    where[key] = f"{part}:{number}"
                elif seen == row:
                    repeats += 1
                else:
                    raise MergeError(f"record {key} differs between {where[key]} and {part}:{number}; "
                                     "keep the right one (delete the other line) and merge again")

    def order(row: str) -> tuple[tuple[int, int, str], tuple[int, int, str]]:
        values = row.split("\t")
        return _number_first(values[layout.group_at]), _number_first(values[layout.key_at])

    return Merged(sorted(by_key.values(), key=order), list(parts), repeats, where)


def write(path: Path, rows: Sequence[str]) -> None:
    """Write the merged file whole: beside it first, fsynced, then renamed over it."""
    partial = path.with_name(path.name + ".merging")
    with partial.open("w", encoding="utf-8", newline="\n") as f:
        f.writelines(row + "\n" for row in rows)
        f.flush()
        os.fsync(f.fileno())
    partial.replace(path)


def main(argv: Sequence[str], layout: Layout, data_dir: Path, spider: str) -> int:
    """``merge-tsv SPIDER --date D [--dir DIR]... [--out FILE]``; prints what it did; 0 or 1."""
    parser = argparse.ArgumentParser(prog=f"scrapy merge-tsv {spider}")
    parser.add_argument("--date", required=True, help="the day whose parts to merge, YYYY-MM-DD")
    parser.add_argument("--dir", action="append", type=Path, default=[],
                        help=f"a directory of parts (repeatable); default DATA_DIR/tsv/{spider}")
    parser.add_argument("--out", type=Path, help="the merged file; default {first dir}/{date}.tsv")
    opts = parser.parse_args(list(argv))
    if not _DATE.match(opts.date):
        print(f"--date {opts.date!r} is not YYYY-MM-DD; e.g. --date 2026-01-31", file=sys.stderr)
        return 1
    dirs: list[Path] = opts.dir or [data_dir / "tsv" / spider]
    out: Path = opts.out or dirs[0] / f"{opts.date}.tsv"
    parts = [p for d in dirs for p in parts_of(d, opts.date)]
    if out.exists() and out not in parts:
        parts.insert(0, out)  # merging again keeps what the merged file already holds
    if not parts:
        print(f"no TSV parts of {opts.date} in {', '.join(map(str, dirs))} (looked for {opts.date}.*.tsv); "
              "copy every worker's parts there, or give --dir for each", file=sys.stderr)
        return 1
    try:
        merged = merge(parts, layout)
    except MergeError as exc:
        print(f"not merged: {exc}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    write(out, merged.rows)
    print(f"merged {len(merged.rows)} records from {len(parts)} files into {out}"
          + (f" ({merged.repeats} identical repeats kept once)" if merged.repeats else ""))
    return 0
