"""``make bench``: our crawl against GNU wget on the same static replica, served by nginx; one JSON line out.

Phases, each announced on stderr with the time elapsed: render the sites, start nginx, measure the
server's own rate, then per repetition our ``scrapy crawl`` and ``wget --recursive`` (interleaved, so a
noisy minute hurts both), then re-extraction against bare warcio iteration, then memory on a site five
times larger, then optionally a concurrency sweep and a cProfile run. The table goes to stdout, then the
JSON line (medians over ``--reps``) as the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.benchmarks.load import ServerRate, server_rate
from tests.benchmarks.nginx import NginxServer
from tests.benchmarks.proc import Measured, run_measured
from tests.benchmarks.site import SiteUnavailable, StaticSite, free_port
from tests.benchmarks.spiders import DEFAULT_SPIDERS, SPIDERS, SpiderBench
from tests.benchmarks.warcs import count_records, warc_bytes

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024

#: The issue's targets (issue 6).
TARGET_CRAWL_RATIO = 0.5
TARGET_REPLAY_RATIO = 0.5
TARGET_RSS_GROWTH = 0.15

#: ``-s`` overrides of every benchmark crawl: full speed against localhost, robots.txt still obeyed
#: (wget reads it too), outputs on. WARC_* are added when the project has the capture middleware.
CRAWL_SETTINGS = {
    "ROBOTSTXT_OBEY": "True",
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": "False",
}


class Progress:
    def __init__(self, quiet: bool = False) -> None:
        self.started = time.monotonic()
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Options:
    project: Path
    python: str
    workdir: Path
    spiders: list[str]
    reps: int
    quick: bool
    size: int | None
    big_size: int | None
    big_reps: int
    concurrency: int
    sweep: list[int]
    warc: str
    server_seconds: float
    extra_settings: dict[str, str]
    profile: str
    """'' (none), 'py-spy' (sampling, barely slows the crawl) or 'cprofile' (deterministic, slows it)."""
    timeout: float
    wget: str
    label: str


@dataclass
class SiteRun:
    bench: SpiderBench
    static: StaticSite
    size: int
    figures: dict[str, Any] = field(default_factory=dict)


# --- the project under test ----------------------------------------------------------------------------
def warc_available(project: Path) -> bool:
    return (project / "crawler" / "middlewares" / "warc.py").exists()


def replay_available(project: Path) -> bool:
    """Whether the project reads ``REPLAY_WARC`` (re-extraction from WARC files) anywhere in ``crawler/``."""
    return any("REPLAY_WARC" in p.read_text(errors="replace") for p in (project / "crawler").rglob("*.py"))


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _first_line(argv: list[str], any_status: bool = False) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip() if out.returncode == 0 or any_status else ""
    return text.splitlines()[0] if text else None


def machine(project: Path) -> dict[str, Any]:
    """What ran the benchmark: cores, memory, CPU, versions, the project's commit."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError):
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    commit = _first_line(["git", "-C", str(project), "describe", "--always", "--dirty", "--abbrev=12"])
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "scrapy": _version("scrapy"),
        "twisted": _version("twisted"),
        "lxml": _version("lxml"),
        "warcio": _version("warcio"),
        "nginx": _first_line(["/usr/sbin/nginx", "-v"]),
        "wget": _first_line(["wget", "--version"]),
        "wrk": (_first_line(["wrk", "-v"], any_status=True) or "").split(" [")[0] or None,
        "project": str(project),
        "project_commit": commit,
    }


# --- one crawl of ours ---------------------------------------------------------------------------------
def _run_summary(data_dir: Path) -> dict[str, Any]:
    runs = sorted((data_dir / "runs").glob("*.json"))
    if not runs:
        return {}
    summary: dict[str, Any] = json.loads(runs[-1].read_text())
    return summary


def _log_stats(log: str) -> dict[str, str]:
    block = log.rpartition("Dumping Scrapy stats:")[2]
    return dict(re.findall(r"'([^']+)': ([^,\n]+)", block))


def _tsv_rows(data_dir: Path) -> int:
    rows = 0
    for path in (data_dir / "tsv").rglob("*.tsv"):
        with path.open("rb") as f:
            rows += sum(1 for _ in f)
    return rows


def crawl_settings(opts: Options, bench: SpiderBench, static: StaticSite, data_dir: Path,
                   concurrency: int, warc_on: bool) -> dict[str, str]:
    settings = {
        **CRAWL_SETTINGS,
        "CONCURRENT_REQUESTS": str(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
        "DATA_DIR": str(data_dir),
        **bench.settings(static),
    }
    if warc_available(opts.project):
        settings["WARC_ENABLED"] = str(warc_on)
        if warc_on:
            settings["WARC_DIR"] = str(data_dir / "warc")
    settings.update(opts.extra_settings)
    return settings


def scrapy_argv(opts: Options, spider: str, settings: dict[str, str], profile_to: Path | None = None) -> list[str]:
    argv = [opts.python]
    if profile_to is not None and profile_to.suffix == ".raw":
        py_spy = shutil.which("py-spy") or str(Path(opts.python).parent / "py-spy")
        argv = [py_spy, "record", "--rate", "50", "--format", "raw", "--output", str(profile_to), "--", *argv]
    elif profile_to is not None:
        argv += ["-m", "cProfile", "-o", str(profile_to)]
    argv += ["-m", "scrapy", "crawl", spider]
    for name, value in settings.items():
        argv += ["-s", f"{name}={value}"]
    return argv


def child_env(opts: Options) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(opts.project), "PYTHONHASHSEED": "0"}


def crawl_ours(opts: Options, run: SiteRun, nginx: NginxServer, label: str, concurrency: int,
               warc_on: bool, profile_to: Path | None = None) -> dict[str, Any]:
    """One ``scrapy crawl`` of the whole site in a fresh DATA_DIR; its figures."""
    out = opts.workdir / "runs" / f"{run.bench.spider}-{label}"
    shutil.rmtree(out, ignore_errors=True)
    data_dir = out / "data"
    data_dir.mkdir(parents=True)
    settings = crawl_settings(opts, run.bench, run.static, data_dir, concurrency, warc_on)
    measured = run_measured(scrapy_argv(opts, run.bench.spider, settings, profile_to), out / "crawl.log",
                            cwd=opts.project, env=child_env(opts), timeout=opts.timeout,
                            server_cpu=nginx.cpu_seconds)
    if measured.returncode != 0:
        raise RuntimeError(f"scrapy crawl {run.bench.spider} exited {measured.returncode}; log "
                           f"{measured.log_path}:\n{measured.tail()}")
    summary = _run_summary(data_dir)
    stats = _log_stats(measured.log_path.read_text(errors="replace"))
    pages = int(summary.get("pages_fetched") or stats.get("response_received_count") or 0)
    errors = summary.get("errors_by_reason") or {}
    if pages != run.static.pages or errors:
        # A crawl that met errors or missed pages measured something else: no figure is better than a wrong one.
        raise RuntimeError(f"scrapy crawl {run.bench.spider} fetched {pages} responses of the site's "
                           f"{run.static.pages} pages, errors {errors}; log {measured.log_path}, nginx log "
                           f"{nginx.workdir / 'error.log'}")
    figures = _rates(measured, pages)
    figures.update(
        items=int(summary.get("new_items") or stats.get("item_scraped_count") or 0),
        tsv_rows=_tsv_rows(data_dir),
        errors=summary.get("errors_by_reason") or {},
        finish_reason=summary.get("finish_reason") or stats.get("finish_reason", "").strip("'"),
        data_dir=str(data_dir),
        warc=warc_on,
    )
    if warc_on:
        warc_dir = data_dir / "warc"
        size = warc_bytes(warc_dir)
        figures.update(warc_bytes=size, warc_bytes_per_page=round(size / pages) if pages else 0,
                       warc_dir=str(warc_dir))
    return figures


def _rates(measured: Measured, pages: int) -> dict[str, Any]:
    wall, cpu = measured.wall_seconds, measured.cpu_seconds
    return {
        "pages": pages,
        "wall_s": round(wall, 3),
        "pages_per_s": round(pages / wall, 1) if wall else 0.0,
        "cpu_s": round(cpu, 3),
        "sys_share_of_cpu": round(measured.sys_seconds / cpu, 3) if cpu else 0.0,
        # Wall time the process was off the CPU (fsync, waiting for sockets or for a core): 1 - cpu/wall.
        "off_cpu_share": round(max(0.0, 1 - cpu / wall), 3) if wall else 0.0,
        "cpu_s_per_1k_pages": round(1000 * cpu / pages, 3) if pages else 0.0,
        "pages_per_cpu_s": round(pages / cpu, 1) if cpu else 0.0,
        "peak_rss_mb": round(measured.peak_rss_bytes / MB, 1),
        "server_cpu_s": round(measured.server_cpu_seconds, 3),
        "server_cpu_share": round(measured.server_cpu_seconds / wall, 3) if wall else 0.0,
        # Cores' worth of CPU other processes on the machine used meanwhile: near 0 is a clean measurement.
        "other_cpu_share": round(measured.other_cpu_seconds / wall, 3) if wall else 0.0,
    }


# --- one crawl of wget's ------------------------------------------------------------------------------
def crawl_wget(opts: Options, run: SiteRun, nginx: NginxServer, label: str) -> dict[str, Any]:
    """``wget --recursive`` over the same pages, every exchange to a gzipped WARC; its figures."""
    out = opts.workdir / "runs" / f"wget-{run.bench.spider}-{label}"
    shutil.rmtree(out, ignore_errors=True)
    (out / "files").mkdir(parents=True)
    warc = out / "wget"
    argv = [
        opts.wget, "--no-verbose", f"--output-file={out / 'wget.log'}", f"--directory-prefix={out / 'files'}",
        "--execute=robots=on", f"--warc-file={warc}", "--no-warc-keep-log", "--tries=1",
        *run.bench.wget_args(run.static, out),
    ]
    measured = run_measured(argv, out / "wget.out", timeout=opts.timeout, server_cpu=nginx.cpu_seconds)
    # wget exits 8 when any page answered with an error; the counts below show which.
    if measured.returncode not in (0, 8):
        raise RuntimeError(f"wget exited {measured.returncode}; see {out / 'wget.log'}")
    counted = count_records(out)
    if set(counted.statuses) - {"200"}:
        raise RuntimeError(f"wget met answers other than 200: {dict(counted.statuses)}; see {out / 'wget.log'} "
                           f"and {nginx.workdir / 'error.log'}")
    figures = _rates(measured, counted.responses)
    size = counted.bytes
    figures.update(
        exit_code=measured.returncode,
        warc_bytes=size,
        warc_bytes_per_page=round(size / counted.responses) if counted.responses else 0,
        warc_records=dict(counted.records),
        statuses=dict(counted.statuses),
        warc_dir=str(out),
        response_urls=counted.response_urls,
    )
    return figures


# --- re-extraction --------------------------------------------------------------------------------------
def reextraction(opts: Options, run: SiteRun, warc_dir: Path | None, label: str) -> dict[str, Any]:
    """``scrapy crawl SPIDER -s REPLAY_WARC=DIR`` against reading the same files with warcio alone."""
    result: dict[str, Any] = {}
    if warc_dir is None or not any(warc_dir.rglob("*.warc*")):
        result["iteration"] = None
        result["replay"] = "not yet available: no WARC files of our crawl (capture not in this checkout)"
        return result
    out = opts.workdir / "runs" / f"replay-{run.bench.spider}-{label}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    counted = count_records(warc_dir)
    iterated = run_measured([opts.python, "-m", "tests.benchmarks.warcs", "iterate", str(warc_dir)],
                            out / "iterate.log", cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            timeout=opts.timeout)
    if iterated.returncode:
        raise RuntimeError(f"warcio iteration failed:\n{iterated.tail()}")
    result["iteration"] = {**_rates(iterated, counted.responses), "records": sum(counted.records.values())}
    # Informational, not the issue's baseline: iteration plus an lxml parse of each HTML page.
    with_parse = run_measured([opts.python, "-m", "tests.benchmarks.warcs", "iterate", str(warc_dir), "--parse"],
                              out / "iterate-parse.log", cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              timeout=opts.timeout)
    if with_parse.returncode == 0:
        result["iteration_with_lxml_parse"] = _rates(with_parse, counted.responses)
    if not replay_available(opts.project):
        result["replay"] = "not yet available: the project does not read REPLAY_WARC"
        return result
    data_dir = out / "data"
    settings = {**CRAWL_SETTINGS, "DATA_DIR": str(data_dir), "REPLAY_WARC": str(warc_dir),
                **run.bench.settings(run.static), **opts.extra_settings}
    if warc_available(opts.project):
        settings["WARC_ENABLED"] = "False"
    replayed = run_measured(scrapy_argv(opts, run.bench.spider, settings), out / "replay.log", cwd=opts.project,
                            env=child_env(opts), timeout=opts.timeout)
    if replayed.returncode:
        result["replay"] = f"failed: exit {replayed.returncode}, see {replayed.log_path}"
        return result
    figures = _rates(replayed, counted.responses)
    figures.update(items=int(_run_summary(data_dir).get("new_items") or 0), tsv_rows=_tsv_rows(data_dir))
    result["replay"] = figures
    return result


# --- medians and the report -------------------------------------------------------------------------------
def median_of(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers: the median over repetitions; anything else: the first repetition's value."""
    merged: dict[str, Any] = {}
    for key, value in reps[0].items():
        values = [r[key] for r in reps if key in r]
        if isinstance(value, bool) or not isinstance(value, int | float):
            merged[key] = value
        else:
            merged[key] = round(statistics.median(values), 3)
    if len(reps) > 1:
        merged["reps"] = len(reps)
        merged["pages_per_s_all"] = [r.get("pages_per_s") for r in reps]
    return merged


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def target(value: float | None, goal: float, higher_is_better: bool = True) -> dict[str, Any]:
    if value is None:
        return {"target": goal, "value": None, "met": None}
    met = value >= goal if higher_is_better else value < goal
    return {"target": goal, "value": value, "met": met}


def _short(frame: str) -> str:
    frame = re.sub(r"\(/[^()]*?/(site-packages|lib/python3\.\d+)/", "(", frame)
    return re.sub(r"\(/[^()]*?/((?:crawler|archive|tests)/)", r"(\1", frame)


def sampled_top(path: Path, limit: int = 25) -> tuple[list[dict[str, Any]], str]:
    """Own and inclusive shares of py-spy's collapsed stacks (``frame;frame;… count`` per line)."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    total = total or 1
    rows = [{"function": f, "own_share": round(n / total, 3),
             "inclusive_share": round(inclusive[f] / total, 3)}
            for f, n in sorted(own.items(), key=lambda kv: kv[1], reverse=True)[:limit]]
    text = [f"{total} samples", "--- own time"]
    text += [f"{100 * n / total:5.1f}%  {f}" for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:40]]
    text.append("--- inclusive")
    text += [f"{100 * n / total:5.1f}%  {f}" for f, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:80]]
    return rows, "\n".join(text)


def profile_top(path: Path, limit: int = 25) -> tuple[list[dict[str, Any]], str]:
    """The hottest functions of a cProfile dump, by own time; and the text report (own and cumulative)."""
    stats = pstats.Stats(str(path))
    rows = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    for (filename, line, func), (_cc, calls, tottime, cumtime, _callers) in sorted(
        raw.items(), key=lambda kv: kv[1][2], reverse=True
    )[:limit]:
        short = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", filename)
        rows.append({"function": f"{short}:{line}({func})", "calls": calls, "own_s": round(tottime, 3),
                     "own_share": round(tottime / total, 3), "cum_s": round(cumtime, 3)})
    text = []
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(str(path), stream=buffer).sort_stats(order).print_stats(40)
        text.append(buffer.getvalue())
    return rows, "\n".join(text)


def bench_site(opts: Options, run_: SiteRun, big_run: SiteRun | None, nginx: NginxServer, warc_on: bool,
               progress: Progress) -> dict[str, Any]:
    """Every figure of one spider's site: server rate, crawls, agreement, re-extraction, memory, extras."""
    bench, static = run_.bench, run_.static
    site: dict[str, Any] = {
        "size": {bench.size_unit: run_.size, "pages": static.pages,
                 "bytes": static.bytes_written,
                 "mean_page_bytes": round(static.bytes_written / static.pages) if static.pages else 0},
    }
    progress(f"{bench.spider}: server rate ({opts.server_seconds:.0f}s per run)")
    rate: ServerRate = server_rate(static.base_url, static.targets, opts.workdir / "nginx",
                                   nginx.cpu_seconds, connections=opts.concurrency,
                                   seconds=opts.server_seconds)
    site["server"] = {
        "tool": rate.tool, "connections": rate.connections, "pages_per_s": round(rate.pages_per_second),
        "mb_per_s": round(rate.bytes_per_second / MB, 1), "errors": rate.errors,
        "nginx_cpu_ms_per_page": round(rate.server_cpu_ms_per_page, 4),
        "nginx_pages_per_cpu_s": round(1000 / rate.server_cpu_ms_per_page)
        if rate.server_cpu_ms_per_page else None,
    }
    progress(f"  {rate.tool}: {rate.pages_per_second:,.0f} pages/s, "
             f"nginx {rate.server_cpu_ms_per_page:.3f} CPU ms/page")

    ours_reps: list[dict[str, Any]] = []
    wget_reps: list[dict[str, Any]] = []
    for rep in range(1, opts.reps + 1):
        progress(f"{bench.spider}: our crawl, rep {rep}/{opts.reps} (concurrency {opts.concurrency}, "
                 f"WARC {'on' if warc_on else 'off'})")
        ours = crawl_ours(opts, run_, nginx, f"rep{rep}", opts.concurrency, warc_on)
        progress(f"  {ours['pages']} pages in {ours['wall_s']:.1f}s = {ours['pages_per_s']:.0f} pages/s, "
                 f"{ours['cpu_s_per_1k_pages']:.2f} CPU s/1k pages, peak RSS {ours['peak_rss_mb']:.0f} MB")
        ours_reps.append(ours)
        progress(f"{bench.spider}: wget --recursive, rep {rep}/{opts.reps}")
        theirs = crawl_wget(opts, run_, nginx, f"rep{rep}")
        progress(f"  {theirs['pages']} pages in {theirs['wall_s']:.1f}s = "
                 f"{theirs['pages_per_s']:.0f} pages/s, peak RSS {theirs['peak_rss_mb']:.0f} MB")
        wget_reps.append(theirs)
    last_ours, last_wget = ours_reps[-1], wget_reps[-1]
    ours_m = median_of(ours_reps)
    wget_m = median_of([{k: v for k, v in r.items() if k != "response_urls"} for r in wget_reps])
    expected_wget = static.pages - (0 if bench.wget_reads_robots else 1)
    wget_urls = set(last_wget["response_urls"])
    agreement: dict[str, Any] = {
        "site_pages": static.pages,
        "ours_responses": [r["pages"] for r in ours_reps],
        "wget_response_records": [r["pages"] for r in wget_reps],
        "wget_expected": expected_wget,
        "counts_agree": all(r["pages"] == static.pages for r in ours_reps)
        and all(r["pages"] == expected_wget for r in wget_reps),
        "wget_urls_are_site_pages": wget_urls <= {static.url(t) for t in static.targets},
    }
    if warc_on:
        ours_count = count_records(Path(last_ours["warc_dir"]))
        ours_urls = set(ours_count.response_urls)
        if not bench.wget_reads_robots:
            ours_urls.discard(static.url("/robots.txt"))
        agreement.update(
            ours_warc_response_records=ours_count.responses,
            ours_warc_records=dict(ours_count.records),
            url_sets_agree=ours_urls == wget_urls,
            only_ours=sorted(ours_urls - wget_urls)[:5],
            only_wget=sorted(wget_urls - ours_urls)[:5],
        )
    site.update(ours=ours_m, wget=wget_m, agreement=agreement)
    site["ratios"] = {
        "ours_over_wget_pages_per_s": _ratio(ours_m["pages_per_s"], wget_m["pages_per_s"]),
        "ours_over_server_pages_per_s": _ratio(ours_m["pages_per_s"], site["server"]["pages_per_s"]),
        "ours_over_wget_cpu_per_page": _ratio(ours_m["cpu_s_per_1k_pages"], wget_m["cpu_s_per_1k_pages"]),
    }
    # The ceiling: one Python process cannot go faster than the pages it handles per CPU second.
    site["ceilings"] = {
        "ours_pages_per_cpu_s": ours_m["pages_per_cpu_s"],
        "wget_pages_per_cpu_s": wget_m["pages_per_cpu_s"],
        "nginx_pages_per_cpu_s": site["server"]["nginx_pages_per_cpu_s"],
        "ours_cpu_bound_share": round(ours_m["pages_per_s"] / ours_m["pages_per_cpu_s"], 3)
        if ours_m["pages_per_cpu_s"] else None,
    }

    progress(f"{bench.spider}: re-extraction against warcio iteration")
    warc_dir = Path(last_ours["warc_dir"]) if warc_on else None
    site["reextraction"] = reextraction(opts, run_, warc_dir, "rep1")
    if site["reextraction"]["iteration"] is None:
        # Still measure bare iteration on wget's WARC, so the baseline figure exists.
        it = run_measured([opts.python, "-m", "tests.benchmarks.warcs", "iterate", last_wget["warc_dir"]],
                          opts.workdir / "iterate-wget.log", cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=opts.timeout)
        site["reextraction"]["iteration_of_wget_warc"] = _rates(it, last_wget["pages"])
    replay = site["reextraction"]["replay"]
    iteration = site["reextraction"]["iteration"]
    site["ratios"]["reextraction_over_iteration"] = (
        _ratio(replay["pages_per_s"], iteration["pages_per_s"])
        if isinstance(replay, dict) and iteration else None
    )
    parse_floor = site["reextraction"].get("iteration_with_lxml_parse")
    site["ratios"]["reextraction_over_iteration_with_parse"] = (
        _ratio(replay["pages_per_s"], parse_floor["pages_per_s"]) if isinstance(replay, dict) and parse_floor
        else None
    )
    progress(f"  replay: {replay if isinstance(replay, str) else str(replay['pages_per_s']) + ' pages/s'}")

    if big_run is not None:
        big_reps = []
        for rep in range(1, opts.big_reps + 1):
            progress(f"{bench.spider}: memory, large site ({big_run.static.pages} pages), "
                     f"rep {rep}/{opts.big_reps}")
            big = crawl_ours(opts, big_run, nginx, f"big-rep{rep}", opts.concurrency, warc_on)
            progress(f"  {big['pages']} pages in {big['wall_s']:.1f}s = {big['pages_per_s']:.0f} pages/s, "
                     f"peak RSS {big['peak_rss_mb']:.0f} MB")
            shutil.rmtree(Path(big["data_dir"]), ignore_errors=True)
            big_reps.append(big)
        big_m = median_of(big_reps)
        growth = (big_m["peak_rss_mb"] / ours_m["peak_rss_mb"] - 1) if ours_m["peak_rss_mb"] else None
        site["memory"] = {
            "small_pages": ours_m["pages"], "small_peak_rss_mb": ours_m["peak_rss_mb"],
            "big_pages": big_m["pages"], "big_peak_rss_mb": big_m["peak_rss_mb"],
            "big_reps": opts.big_reps, "big_pages_per_s": big_m["pages_per_s"],
            "big_cpu_s_per_1k_pages": big_m["cpu_s_per_1k_pages"],
            "rss_growth": round(growth, 3) if growth is not None else None,
        }
        site["ratios"]["rss_big_over_small"] = _ratio(big_m["peak_rss_mb"], ours_m["peak_rss_mb"])
    else:
        site["memory"] = None
        site["ratios"]["rss_big_over_small"] = None

    if opts.sweep:
        site["sweep"] = {}
        for conc in opts.sweep:
            progress(f"{bench.spider}: concurrency sweep, {conc}")
            swept = crawl_ours(opts, run_, nginx, f"sweep{conc}", conc, warc_on)
            site["sweep"][str(conc)] = {k: swept[k] for k in ("pages_per_s", "cpu_s_per_1k_pages",
                                                               "peak_rss_mb", "server_cpu_share")}
            progress(f"  {swept['pages_per_s']:.0f} pages/s")

    if opts.profile:
        prof = opts.workdir / f"profile-{bench.spider}.{'raw' if opts.profile == 'py-spy' else 'prof'}"
        progress(f"{bench.spider}: one crawl under {opts.profile} -> {prof}")
        profiled = crawl_ours(opts, run_, nginx, "profile", opts.concurrency, warc_on, profile_to=prof)
        top, text = sampled_top(prof) if opts.profile == "py-spy" else profile_top(prof)
        (opts.workdir / f"profile-{bench.spider}.txt").write_text(text)
        site["profile"] = {"tool": opts.profile, "path": str(prof),
                           "pages_per_s_under_profiler": profiled["pages_per_s"],
                           "top_own_time": top[:15]}

    site["targets"] = {
        "ours_over_wget_pages_per_s": target(site["ratios"]["ours_over_wget_pages_per_s"],
                                             TARGET_CRAWL_RATIO),
        "reextraction_over_iteration": target(site["ratios"]["reextraction_over_iteration"],
                                              TARGET_REPLAY_RATIO),
        "rss_growth_small_to_big": target(site["memory"]["rss_growth"] if site["memory"] else None,
                                          TARGET_RSS_GROWTH, higher_is_better=False),
    }
    for name in ("ours", "wget"):
        site[name].pop("data_dir", None)
    return site


def run(opts: Options, progress: Progress) -> dict[str, Any]:
    opts.workdir.mkdir(parents=True, exist_ok=True)
    warc_on = opts.warc == "on" or (opts.warc == "auto" and warc_available(opts.project))
    if warc_on and not warc_available(opts.project):
        raise SystemExit("--warc on, but crawler/middlewares/warc.py is not in the project")
    report: dict[str, Any] = {
        "benchmark": "issue 6: our crawl against wget on the same static replica",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "label": opts.label,
        "quick": opts.quick,
        "reps": opts.reps,
        "machine": machine(opts.project),
        "settings": {
            "concurrency": opts.concurrency,
            "warc": warc_on,
            "warc_capture_in_project": warc_available(opts.project),
            "replay_in_project": replay_available(opts.project),
            "overrides": {**CRAWL_SETTINGS, "CONCURRENT_REQUESTS": str(opts.concurrency),
                          "CONCURRENT_REQUESTS_PER_DOMAIN": str(opts.concurrency), **opts.extra_settings},
        },
        "skipped": {},
        "sites": {},
    }
    runs: list[SiteRun] = []
    bigs: list[SiteRun] = []
    for name in opts.spiders:
        bench = SPIDERS[name]
        why = bench.available(opts.project)
        if why:
            report["skipped"][name] = why
            progress(f"skipping {name}: {why}")
            continue
        size = opts.size or (bench.quick_size if opts.quick else bench.default_size)
        static = StaticSite(opts.workdir / "sites" / name, free_port())
        progress(f"rendering the {name} replica: {size} {bench.size_unit} to {static.root}")
        try:
            bench.build(static, size, opts.quick)
        except SiteUnavailable as exc:
            report["skipped"][name] = str(exc)
            progress(f"skipping {name}: {exc}")
            continue
        progress(f"  {static.pages} pages, {static.bytes_written / MB:.0f} MB")
        runs.append(SiteRun(bench, static, size))
        big_size = opts.big_size if opts.big_size is not None else (0 if opts.quick else bench.big_size)
        if big_size:
            big_static = StaticSite(opts.workdir / "sites" / f"{name}-big", free_port())
            progress(f"rendering the large {name} replica for memory growth: {big_size} {bench.size_unit}")
            bench.build(big_static, big_size, opts.quick)
            progress(f"  {big_static.pages} pages, {big_static.bytes_written / MB:.0f} MB")
            bigs.append(SiteRun(bench, big_static, big_size))
    if not runs:
        raise SystemExit(f"nothing to benchmark: {report['skipped']}")

    with NginxServer([r.static for r in runs + bigs], opts.workdir / "nginx") as nginx:
        progress(f"nginx serving on {', '.join(r.static.base_url for r in runs + bigs)} "
                 f"(config {nginx.conf_path})")
        for run_ in runs:
            big_run = next((b for b in bigs if b.bench is run_.bench), None)
            report["sites"][run_.bench.spider] = bench_site(opts, run_, big_run, nginx, warc_on, progress)
    return report


# --- output ----------------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str = ",.1f") -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return format(value, spec)
    return str(value)


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"machine: {m['nproc']} cores, {m['memory_gb']} GB, {m['cpu']}; Python {m['python']}, Scrapy {m['scrapy']}, "
        f"{m['nginx']}, {m['wget']}",
        f"project: {m['project']} @ {m['project_commit']}; WARC {'on' if report['settings']['warc'] else 'off'}, "
        f"concurrency {report['settings']['concurrency']}, reps {report['reps']}",
    ]
    for name, why in report["skipped"].items():
        lines.append(f"skipped {name}: {why}")
    for spider, site in report["sites"].items():
        o, w, r, s = site["ours"], site["wget"], site["ratios"], site["server"]
        lines += [
            "",
            f"{spider}: {site['size']['pages']:,} pages, {site['size']['bytes'] / MB:,.0f} MB "
            f"(mean {site['size']['mean_page_bytes']:,} B/page)",
            f"  server alone ({s['tool']}, {s['connections']} connections): {s['pages_per_s']:,} pages/s, "
            f"{s['mb_per_s']} MB/s; nginx {s['nginx_cpu_ms_per_page']} CPU ms/page",
            f"  {'':28}{'ours (scrapy)':>15}{'wget':>15}{'ours/wget':>12}",
            f"  {'pages/s':28}{_fmt(o['pages_per_s']):>15}{_fmt(w['pages_per_s']):>15}"
            f"{_fmt(r['ours_over_wget_pages_per_s'], '.3f'):>12}",
            f"  {'pages fetched':28}{_fmt(o['pages'], ',.0f'):>15}{_fmt(w['pages'], ',.0f'):>15}",
            f"  {'wall s':28}{_fmt(o['wall_s'], ',.2f'):>15}{_fmt(w['wall_s'], ',.2f'):>15}",
            f"  {'CPU s per 1k pages':28}{_fmt(o['cpu_s_per_1k_pages'], ',.3f'):>15}"
            f"{_fmt(w['cpu_s_per_1k_pages'], ',.3f'):>15}{_fmt(r['ours_over_wget_cpu_per_page'], '.2f'):>12}",
            f"  {'pages per CPU s (ceiling)':28}{_fmt(o['pages_per_cpu_s']):>15}{_fmt(w['pages_per_cpu_s']):>15}",
            f"  {'peak RSS MB':28}{_fmt(o['peak_rss_mb']):>15}{_fmt(w['peak_rss_mb']):>15}",
            f"  {'WARC bytes/page':28}{_fmt(o.get('warc_bytes_per_page'), ',.0f'):>15}"
            f"{_fmt(w['warc_bytes_per_page'], ',.0f'):>15}",
            f"  {'nginx CPU share of wall':28}{_fmt(o['server_cpu_share'], '.2f'):>15}"
            f"{_fmt(w['server_cpu_share'], '.2f'):>15}",
            f"  {'other processes, cores':28}{_fmt(o['other_cpu_share'], '.2f'):>15}"
            f"{_fmt(w['other_cpu_share'], '.2f'):>15}",
            f"  counts agree: {site['agreement']['counts_agree']} (site {site['agreement']['site_pages']}, ours "
            f"{site['agreement']['ours_responses']}, wget {site['agreement']['wget_response_records']})"
            + (f"; URL sets agree: {site['agreement']['url_sets_agree']}" if "url_sets_agree" in site["agreement"]
               else ""),
        ]
        rx = site["reextraction"]
        it = rx.get("iteration") or rx.get("iteration_of_wget_warc")
        which = "our WARC" if rx.get("iteration") else "wget's WARC"
        lines.append(f"  warcio iteration of {which}: {_fmt(it['pages_per_s'] if it else None)} pages/s")
        if rx.get("iteration_with_lxml_parse"):
            lines.append(f"  warcio iteration + lxml parse of each page: "
                         f"{_fmt(rx['iteration_with_lxml_parse']['pages_per_s'])} pages/s")
        replay = rx["replay"]
        lines.append("  re-extraction: " + (replay if isinstance(replay, str) else
                                             f"{replay['pages_per_s']:,.1f} pages/s, "
                                             f"{_fmt(r['reextraction_over_iteration'], '.3f')} of iteration"))
        mem = site["memory"]
        if mem:
            lines.append(f"  memory: {mem['small_pages']:,} pages -> {mem['small_peak_rss_mb']} MB; "
                         f"{mem['big_pages']:,} pages -> {mem['big_peak_rss_mb']} MB "
                         f"({mem['rss_growth']:+.1%}, {mem['big_reps']} rep(s))")
        for conc, figs in (site.get("sweep") or {}).items():
            lines.append(f"  concurrency {conc}: {figs['pages_per_s']:,.1f} pages/s, "
                         f"{figs['cpu_s_per_1k_pages']:.3f} CPU s/1k pages")
        for key, t in site["targets"].items():
            verdict = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
            lines.append(f"  target {key}: {_fmt(t['value'], '.3f')} vs {t['target']} -> {verdict}")
    return "\n".join(lines)


def _sizes(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def _setting(value: str) -> tuple[str, str]:
    name, sep, val = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=VALUE")
    return name, val


def parse_args(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", "--size", dest="size", type=int, default=None,
                        help="site size: forum threads (Sina: articles); default about 10,000 pages")
    parser.add_argument("--big-threads", "--big-size", dest="big_size", type=int, default=None,
                        help="the large site for memory growth (default about 50,000 pages; 0 skips it)")
    parser.add_argument("--big-reps", type=int, default=1,
                        help="repetitions on the large site (default 1: a 50k-page crawl takes about 17 minutes)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions; figures are medians (default 3)")
    parser.add_argument("--quick", action="store_true", help="a tiny site once, for the smoke test")
    parser.add_argument("--spiders", default=",".join(DEFAULT_SPIDERS),
                        help=f"comma-separated, of {', '.join(SPIDERS)} (default {','.join(DEFAULT_SPIDERS)})")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="CONCURRENT_REQUESTS and _PER_DOMAIN of our crawl, connections of the server test")
    parser.add_argument("--sweep", type=_sizes, default=[], help="also one crawl at each concurrency, e.g. 8,16,32")
    parser.add_argument("--warc", choices=("auto", "on", "off"), default="auto",
                        help="WARC capture in our crawl: auto = on when crawler/middlewares/warc.py exists")
    parser.add_argument("--set", "-s", dest="settings", type=_setting, action="append", default=[],
                        metavar="NAME=VALUE", help="extra -s override for our crawls (repeatable)")
    parser.add_argument("--profile", nargs="?", const="auto", default="", choices=("auto", "py-spy", "cprofile"),
                        help="also one crawl under a profiler (auto: py-spy when installed, else cProfile)")
    parser.add_argument("--server-seconds", type=float, default=None, help="duration of the server test (5)")
    parser.add_argument("--project", type=Path, default=ROOT, help="the checkout whose crawler is measured")
    parser.add_argument("--python", default=sys.executable, help="interpreter for scrapy (default: this one)")
    parser.add_argument("--wget", default=shutil.which("wget") or "/usr/bin/wget")
    parser.add_argument("--workdir", type=Path, default=None, help="where sites and outputs go (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", type=Path, default=None, help="also append the JSON line to this file")
    parser.add_argument("--timeout", type=float, default=3600, help="per crawl, seconds")
    parser.add_argument("--label", default="", help="free text recorded in the JSON (e.g. which branch)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.spiders.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPIDERS]
    if unknown:
        parser.error(f"--spiders: unknown {unknown}; known: {', '.join(SPIDERS)}")
    reps = 1 if args.quick else args.reps
    opts = Options(
        project=args.project.resolve(),
        python=args.python,
        workdir=(args.workdir or Path(tempfile.mkdtemp(prefix="bench-"))).resolve(),
        spiders=names,
        reps=max(1, reps),
        quick=args.quick,
        size=args.size,
        big_size=args.big_size,
        big_reps=max(1, args.big_reps),
        concurrency=args.concurrency,
        sweep=args.sweep,
        warc=args.warc,
        server_seconds=args.server_seconds or (1.0 if args.quick else 5.0),
        extra_settings=dict(args.settings),
        profile=("py-spy" if shutil.which("py-spy") or (Path(args.python).parent / "py-spy").exists()
                 else "cprofile") if args.profile == "auto" else args.profile,
        timeout=args.timeout,
        wget=args.wget,
        label=args.label,
    )
    return opts, args


def main(argv: list[str] | None = None) -> int:
    opts, args = parse_args(argv)
    progress = Progress(args.quiet)
    progress(f"work directory {opts.workdir}")
    try:
        report = run(opts, progress)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(opts.workdir, ignore_errors=True)
    report["elapsed_s"] = round(time.monotonic() - progress.started, 1)
    print(table(report))
    line = json.dumps(report, ensure_ascii=False, sort_keys=False)
    if args.json:
        with args.json.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
    print(line, flush=True)
    return 0
