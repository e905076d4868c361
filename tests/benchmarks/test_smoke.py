"""``python -m tests.benchmarks --quick`` runs end to end and its JSON line holds every figure, sane."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.benchmarks.harness import main
from tests.benchmarks.nginx import NGINX_CANDIDATES

pytestmark = pytest.mark.slow


def _need(tool: str, *candidates: str) -> None:
    # .ci/run installs both: a missing one is a set-up failure, never a reason to skip the smoke run.
    package = tool if tool != "nginx" else "nginx-light"
    assert any(shutil.which(c) for c in candidates or (tool,)), f"{tool} is missing: apt-get install {package}"


SITE_KEYS = {"size", "server", "ours", "wget", "agreement", "ratios", "ceilings", "reextraction", "memory",
             "targets"}
RUN_KEYS = {"pages", "wall_s", "pages_per_s", "cpu_s", "cpu_s_per_1k_pages", "pages_per_cpu_s", "peak_rss_mb",
            "server_cpu_s", "server_cpu_share", "warc_bytes_per_page"}
RATIO_KEYS = {"ours_over_wget_pages_per_s", "ours_over_server_pages_per_s", "ours_over_wget_cpu_per_page",
              "reextraction_over_iteration", "rss_big_over_small"}


def test_quick_run_reports_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _need("nginx", *NGINX_CANDIDATES)
    _need("wget")
    out = tmp_path / "bench.jsonl"

    assert main(["--quick", "--quiet", "--workdir", str(tmp_path / "work"), "--json", str(out)]) == 0

    printed = capsys.readouterr().out.strip().splitlines()
    report = json.loads(printed[-1])
    assert json.loads(out.read_text()) == report
    assert {"machine", "settings", "sites", "skipped", "reps", "quick"} <= report.keys()
    assert report["machine"]["nproc"] >= 1 and report["machine"]["scrapy"]
    site = report["sites"]["51credit"]
    assert site.keys() >= SITE_KEYS
    assert site["ratios"].keys() >= RATIO_KEYS
    assert (RUN_KEYS - {"warc_bytes_per_page"}) <= site["ours"].keys()
    assert site["wget"].keys() >= RUN_KEYS

    agreement = site["agreement"]
    assert agreement["counts_agree"], agreement
    assert agreement["wget_urls_are_site_pages"]
    assert site["ours"]["pages"] == site["wget"]["pages"] == site["size"]["pages"] > 10
    assert site["ours"]["items"] == site["ours"]["tsv_rows"] > 0
    if report["settings"]["warc"]:
        assert agreement["url_sets_agree"], (agreement["only_ours"], agreement["only_wget"])
        assert site["ours"]["warc_bytes_per_page"] > 0

    for name, other in report["sites"].items():  # Sina too, once its replica is in the checkout
        assert other["agreement"]["counts_agree"], (name, other["agreement"])
        assert other["ratios"]["ours_over_wget_pages_per_s"] > 0, name

    for side in ("ours", "wget"):
        assert site[side]["pages_per_s"] > 0
        assert site[side]["cpu_s"] > 0
        assert site[side]["peak_rss_mb"] >= 0
    assert site["server"]["pages_per_s"] > 0 and site["server"]["errors"] == 0
    assert site["ratios"]["ours_over_wget_pages_per_s"] > 0
    replay = site["reextraction"]["replay"]
    assert isinstance(replay, dict) or replay.startswith("not yet available")
    assert "target" in site["targets"]["ours_over_wget_pages_per_s"]
