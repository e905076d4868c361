"""CDXJ beside each closed WARC: byte-sorted, pointing at the right records."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from archive.index import cdxj_path, index_paths, index_warc, merged_lines
from archive.reader import read_record_at
from tests.archive.warcfiles import build_good_set


def test_cdxj_lines_point_at_their_records(tmp_path: Path) -> None:
    good = build_good_set(tmp_path)
    progress = io.StringIO()
    written = index_paths([good.directory], progress=progress)
    assert written == [cdxj_path(good.first), cdxj_path(good.second)]
    assert written[0].name == good.first.name.removesuffix(".warc.gz") + ".cdxj"
    assert progress.getvalue().count("entries ->") == 2
    for warc, cdxj in zip((good.first, good.second), written, strict=True):
        raw = cdxj.read_bytes().splitlines()
        assert raw == sorted(raw)  # byte order
        assert len(raw) == 2
        for line in raw:
            surt, ts, blob = line.decode().split(" ", 2)
            entry = json.loads(blob)
            assert {"url", "digest", "filename", "offset", "length", "status"} <= entry.keys()
            assert len(ts) == 14 and ts.isdigit()
            assert surt.startswith("com,example,bbs)/")
            assert entry["filename"] == warc.name
            record = read_record_at(warc, int(entry["offset"]), keep_block=False)
            assert record.target_uri == entry["url"]
            assert record.length == int(entry["length"])
            assert record.get("WARC-Payload-Digest") == entry["digest"]
    mimes = [json.loads(line.split(b" ", 2)[2])["mime"] for line in written[1].read_bytes().splitlines()[1:]]
    assert mimes == ["warc/revisit"]


def test_merged_lines_stay_byte_sorted(tmp_path: Path) -> None:
    good = build_good_set(tmp_path)
    files = [index_warc(good.first)[0], index_warc(good.second)[0]]
    merged = list(merged_lines(files))
    assert len(merged) == 4 and merged == sorted(merged)


def test_open_files_are_not_indexed(tmp_path: Path) -> None:
    open_file = tmp_path / "x-20240101000000000-00000-h.warc.gz.open"
    open_file.write_bytes(b"")
    with pytest.raises(ValueError, match="archive salvage"):
        index_warc(open_file)
