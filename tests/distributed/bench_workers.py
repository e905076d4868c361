"""Pages per second of one worker against two on the same replica site: ``python -m tests.distributed.bench_workers``.

Not a test (no timing is asserted anywhere): it prints what it measured. The site answers every request
after a fixed latency (``--latency``, 40 ms by default, what a real forum takes), and each worker keeps
``--per-worker`` requests in flight (1 by default: the project's CONCURRENT_REQUESTS_PER_DOMAIN), as
politeness limits a crawler per site: a worker then spends most of its time waiting, as real crawls do,
and a second worker (a second machine, a second IP) adds its own budget. The rate is taken from the
site's side: pages served between the first and the last request. A single process without Redis
(SQLite state) is measured too, for what distributed mode costs one worker.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from pathlib import Path

from tests.distributed.conftest import RedisServer
from tests.distributed.workers import Slow, pid_counts, start_worker
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, Request, Response, serving


class Clock:
    """Notes when each page was asked for."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.lock = threading.Lock()

    def handle(self, request: Request) -> Response | None:
        if request.path != "/robots.txt":
            with self.lock:
                self.times.append(time.monotonic())
        return None


def run(workers: int, board_seed: int, latency: float, per_worker: int, root: Path,
        extra: dict[str, str] | None = None, distributed: bool = True) -> dict[str, float]:
    board = generated_board(forums=4, threads_per_forum=60, max_posts=100, seed=board_seed)
    expected = sum(len(t.posts) for t in board.threads.values())
    clock = Clock()
    redis_server = RedisServer(root / "redis")
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        with serving(Replica([clock, Slow(latency), DiscuzSite(board)])) as server:
            settings = {"CREDIT51_BASE_URL": server.base_url, "LOG_LEVEL": "WARNING",
                        "CONCURRENT_REQUESTS": str(per_worker), "CONCURRENT_REQUESTS_PER_DOMAIN": str(per_worker),
                        **(extra or {})}
            if distributed:
                settings.update({"REDIS_URL": redis_server.url, "REDIS_CRAWL_ID": f"bench-{workers}"})
            dirs = [root / f"w{n}" for n in range(workers)]
            procs = [start_worker(d, {**settings, "WORKER_ID": d.name}) for d in dirs]
            codes = [p.wait(timeout=600) for p in procs]
    finally:
        redis_server.stop()
    if codes != [0] * workers:
        raise SystemExit(f"a worker failed ({codes}); see {root}/w*/worker.log")
    written = sum(pid_counts(dirs).values())
    if written != expected:
        raise SystemExit(f"{written} posts written, {expected} expected; see {root}/w*/worker.log")
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    span = clock.times[-1] - clock.times[0]
    pages = len(clock.times)
    return {
        "pages": pages,
        "seconds": span,
        "pages_per_second": pages / span,
        "site_cpu_ms_per_page": 1000 * (cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime
                                        - cpu_before.ru_stime) / pages,
        # Children: the workers and redis-server.
        "worker_cpu_ms_per_page": 1000 * (children.ru_utime + children.ru_stime - children_before.ru_utime
                                          - children_before.ru_stime) / pages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.04, help="seconds the site takes per request")
    parser.add_argument("--per-worker", type=int, default=1, help="requests in flight per worker")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each, the best is kept")
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every worker, e.g. -s TSV_FSYNC=False")
    opts = parser.parse_args()
    extra = dict(item.split("=", 1) for item in opts.settings)
    best: dict[int, dict[str, float]] = {}
    for round_ in range(opts.rounds):
        for workers in (0, 1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                result = run(max(workers, 1), 17, opts.latency, opts.per_worker, Path(tmp), extra, workers > 0)
            what = f"{workers} worker(s) on Redis" if workers else "1 process, no Redis"
            print(f"round {round_ + 1}, {what}: {result['pages']:.0f} pages in {result['seconds']:.2f} s"
                  f" = {result['pages_per_second']:.1f} pages/s; CPU per page: site "
                  f"{result['site_cpu_ms_per_page']:.1f} ms, crawl {result['worker_cpu_ms_per_page']:.1f} ms")
            if workers not in best or result["pages_per_second"] > best[workers]["pages_per_second"]:
                best[workers] = result
    ceiling = opts.per_worker / opts.latency
    print(f"latency {opts.latency * 1000:.0f} ms, {opts.per_worker} in flight per worker: "
          f"ceiling {ceiling:.0f} pages/s per worker")
    rate = {n: result["pages_per_second"] for n, result in best.items()}
    print(f"two workers / one worker = {rate[2] / rate[1]:.2f}x; "
          f"one worker on Redis / one process without = {rate[1] / rate[0]:.2f}x")


if __name__ == "__main__":
    main()
