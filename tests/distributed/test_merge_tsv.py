"""``scrapy merge-tsv``: a day's parts become one file, sorted by thread then post, each record once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.commands.merge_tsv import Layout, main
from crawler.items import ForumPost
from crawler.processors import tsv_row
from tests.helpers import ROOT

LAYOUT = Layout(columns=len(ForumPost.tsv_columns), key_at=ForumPost.tsv_columns.index("pid"))


def row(tid: int, pid: int, content: str = "内容") -> str:
    values: list[object] = [tid, "玩卡生活", "版块", "标题", f"http://x/thread-{tid}-1-1.html", "作者", None,
                            "2018-9-1", pid, "卡友", None, "2015-3-1", 1, content]
    return tsv_row(values)


def write(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")


def test_parts_merge_in_numeric_order_and_repeats_are_kept_once(tmp_path: Path) -> None:
    parts = tmp_path / "tsv" / "51credit"
    write(parts / "2026-01-31.box1-7.tsv", [row(100, 43000010), row(9, 43000100), row(100, 43000002)])
    write(parts / "2026-01-31.box2-8.tsv", [row(9, 43000099), row(100, 43000010)])  # 43000010: taken over
    write(parts / "2026-02-01.box1-7.tsv", [row(1, 1)])  # another day: left alone
    assert main(["--date", "2026-01-31"], LAYOUT, tmp_path, "51credit") == 0
    merged = (parts / "2026-01-31.tsv").read_text(encoding="utf-8").splitlines()
    assert merged == [row(9, 43000099), row(9, 43000100), row(100, 43000002), row(100, 43000010)]
    # Merging again (a late part arrives) keeps what the merged file holds.
    write(parts / "2026-01-31.box3-9.tsv", [row(50, 43000050)])
    assert main(["--date", "2026-01-31"], LAYOUT, tmp_path, "51credit") == 0
    again = (parts / "2026-01-31.tsv").read_text(encoding="utf-8").splitlines()
    assert again == [row(9, 43000099), row(9, 43000100), row(50, 43000050), row(100, 43000002), row(100, 43000010)]


def test_two_different_rows_of_one_record_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = tmp_path / "tsv" / "51credit"
    write(parts / "2026-01-31.a.tsv", [row(1, 5, "原文")])
    write(parts / "2026-01-31.b.tsv", [row(1, 6), row(1, 5, "改过")])
    assert main(["--date", "2026-01-31"], LAYOUT, tmp_path, "51credit") == 1
    error = capsys.readouterr().err
    assert f"record 5 differs between {parts / '2026-01-31.a.tsv'}:1 and {parts / '2026-01-31.b.tsv'}:2" in error
    assert "delete the other line" in error
    assert not (parts / "2026-01-31.tsv").exists()


def test_torn_or_foreign_rows_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = tmp_path / "tsv" / "51credit"
    (parts).mkdir(parents=True)
    (parts / "2026-01-31.a.tsv").write_text(row(1, 5) + "\n" + row(1, 6)[:20], encoding="utf-8")
    assert main(["--date", "2026-01-31"], LAYOUT, tmp_path, "51credit") == 1
    assert "2026-01-31.a.tsv:2 has no newline at its end" in capsys.readouterr().err
    (parts / "2026-01-31.a.tsv").write_text("a\tb\t\n", encoding="utf-8")
    assert main(["--date", "2026-01-31"], LAYOUT, tmp_path, "51credit") == 1
    assert "2026-01-31.a.tsv:1 has 2 values, not 14" in capsys.readouterr().err


def test_parts_from_several_directories_and_a_chosen_output(tmp_path: Path) -> None:
    write(tmp_path / "box1" / "2026-01-31.w1.tsv", [row(2, 20)])
    write(tmp_path / "box2" / "2026-01-31.w2.tsv", [row(1, 10)])
    out = tmp_path / "all" / "2026-01-31.tsv"
    argv = ["--date", "2026-01-31", "--dir", str(tmp_path / "box1"), "--dir", str(tmp_path / "box2"),
            "--out", str(out)]
    assert main(argv, LAYOUT, tmp_path, "51credit") == 0
    assert out.read_text(encoding="utf-8").splitlines() == [row(1, 10), row(2, 20)]


def test_no_parts_and_a_bad_date_name_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--date", "2026-01-31"], LAYOUT, tmp_path, "51credit") == 1
    assert "no TSV parts of 2026-01-31" in capsys.readouterr().err
    assert main(["--date", "2026-1-31"], LAYOUT, tmp_path, "51credit") == 1
    assert "--date '2026-1-31' is not YYYY-MM-DD" in capsys.readouterr().err


def test_the_scrapy_command(tmp_path: Path) -> None:
    parts = tmp_path / "tsv" / "51credit"
    write(parts / "2026-01-31.w1.tsv", [row(3, 31), row(3, 30)])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "scrapy", "merge-tsv", "51credit", "--date", "2026-01-31",
           "-s", f"DATA_DIR={tmp_path}"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"merged 2 records from 1 files into {parts / '2026-01-31.tsv'}" in done.stdout
    assert (parts / "2026-01-31.tsv").read_text(encoding="utf-8").splitlines() == [row(3, 30), row(3, 31)]
    refused = subprocess.run([*cmd[:4], "nope", "--date", "2026-01-31"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode != 0 and "no spider 'nope'" in refused.stderr
