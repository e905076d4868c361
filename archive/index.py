"""CDXJ indexes beside closed WARC files (``x.warc.gz`` -> ``x.cdxj``), byte-sorted, built by cdxj-indexer."""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from cdxj_indexer.main import CDXJIndexer


def cdxj_path(warc: Path) -> Path:
    """Where the index of ``warc`` goes: ``x.warc.gz`` -> ``x.cdxj`` in the same directory."""
    name = warc.name
    for suffix in (".warc.gz", ".warc"):
        if name.endswith(suffix):
            return warc.with_name(name[: -len(suffix)] + ".cdxj")
    raise ValueError(f"{warc} is not a .warc.gz file; index closed WARC files only")


def index_warc(warc: Path, output: Path | None = None) -> tuple[Path, int]:
    """Write the sorted CDXJ of ``warc`` (atomically) and return its path and line count.

    Lines are ``{surt} {14-digit timestamp} {json}`` with ``url``, ``mime``, ``status``, ``digest``,
    ``length``, ``offset`` and ``filename`` (the WARC's name alone): response, revisit and resource
    records, and metadata records that are not ``application/warc-fields``.
    """
    warc = Path(warc)
    if warc.name.endswith(".open"):
        raise ValueError(f"{warc} is still open; close it or run `archive salvage {warc.parent}` first")
    target = output or cdxj_path(warc)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "w", encoding="utf-8", newline="\n") as out:
        CDXJIndexer(output=out, inputs=[str(warc)], sort=True).process_all()
        out.flush()
        os.fsync(out.fileno())
    lines = _count_lines(partial)
    os.replace(partial, target)
    return target, lines


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def closed_warcs(paths: Iterable[str | Path]) -> list[Path]:
    """The closed ``.warc.gz`` files named or found (not recursively) in named directories, sorted."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.name.endswith(".warc.gz")))
        elif path.name.endswith(".open"):
            raise ValueError(f"{path} is still open; run `archive salvage {path.parent}` first")
        else:
            found.append(path)
    return found


def index_paths(paths: Iterable[str | Path], progress: TextIO | None = None) -> list[Path]:
    """Index every closed WARC named or in named directories; one line per file on ``progress`` if given."""
    warcs = closed_warcs(paths)
    written = []
    for number, warc in enumerate(warcs, 1):
        target, lines = index_warc(warc)
        written.append(target)
        if progress is not None:
            print(f"[{number}/{len(warcs)}] {warc.name}: {lines} entries -> {target.name}", file=progress)
    return written


def merged_lines(cdxj_files: Iterable[Path]) -> Iterator[bytes]:
    """The lines of several sorted CDXJ files as one byte-sorted stream (files read lazily)."""
    with ExitStack() as stack:
        handles = [stack.enter_context(open(path, "rb")) for path in cdxj_files]
        yield from heapq.merge(*handles)
