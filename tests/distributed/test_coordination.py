"""The shared queue: nothing queued twice, nothing lost when a worker dies, and a crawl knows when it is over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import redis

from crawler.distributed import crawl_id, worker_id
from crawler.distributed.coordination import Coordinator
from crawler.errors import RunLocked
from tests.distributed.conftest import RedisServer


def coordinator(server: RedisServer, worker: str, lease: float = 30, crawl: str = "") -> Coordinator:
    return Coordinator(redis.Redis.from_url(server.url), "t", "51credit", worker, lease, url=server.url,
                       crawl_id=crawl)


def test_a_request_is_queued_once_per_crawl_and_held_until_acknowledged(redis_server: RedisServer) -> None:
    a = coordinator(redis_server, "a")
    a.acquire()
    assert a.join().outcome == "started"
    assert a.push("fp1", 0, b"listing")
    assert not a.push("fp1", 0, b"listing again")  # the shared dupefilter
    assert a.push("", 0, b"retry")  # dont_filter
    assert a.push("fp2", -5, b"urgent")  # priority 5: score -5 comes first
    assert a.queued() == 3
    popped = [a.pop(), a.pop(), a.pop()]
    assert [p[1] for p in popped if p] == [b"urgent", b"listing", b"retry"]
    assert a.pop() is None
    held = redis_server.client.hgetall(a.held_key)
    assert len(held) == 3
    status = a.status()
    assert (status.complete, status.busy) == (False, ["a"])  # held requests may still queue more
    a.ack([p[0] for p in popped if p])
    status = a.status()
    assert status.complete and status.queued == 0
    assert redis_server.client.exists(a.dupefilter_key) == 0  # the next crawl starts afresh
    assert not a.push("fp1", 0, b"listing")  # but not by a late start request of the crawl just over
    assert a.join().outcome == "finished"
    later = coordinator(redis_server, "a")  # the next run of the worker, with no REDIS_CRAWL_ID
    assert later.join().outcome == "started"
    assert later.push("fp1", 0, b"listing")


def test_workers_with_one_crawl_id_make_one_crawl_and_a_late_one_does_not_start_another(
        redis_server: RedisServer) -> None:
    a, b = coordinator(redis_server, "a", crawl="run-7"), coordinator(redis_server, "b", crawl="run-7")
    started, joined = a.join(), b.join()
    assert (started.outcome, started.crawl_id) == ("started", "run-7")
    assert (joined.outcome, joined.crawl_id) == ("joined", "run-7")
    assert a.push("fp1", 0, b"listing") and not b.push("fp1", 0, b"listing")
    a.pop()
    a.ack(["1"])
    assert b.status().complete
    late = coordinator(redis_server, "c", crawl="run-7")
    finished = late.join()
    assert (finished.outcome, finished.crawl_id) == ("finished", "run-7")
    assert abs(float(finished.since) - time.time()) < 60
    # Another id while a crawl is going: it joins the one going.
    assert coordinator(redis_server, "d", crawl="run-8").join().outcome == "started"
    other = coordinator(redis_server, "e", crawl="run-9").join()
    assert (other.outcome, other.crawl_id) == ("joined", "run-8")


def test_a_dead_workers_held_requests_go_back_to_the_queue(redis_server: RedisServer) -> None:
    a, b = coordinator(redis_server, "a", lease=0.3), coordinator(redis_server, "b")
    a.acquire()
    b.acquire()
    a.join()
    a.push("fp1", 0, b"page-1")
    a.push("fp2", 0, b"page-2")
    assert (a.pop() or ("", b""))[1] == b"page-1"
    assert b.status().busy == ["a"]
    time.sleep(0.5)  # a is killed: its lease is not renewed
    status = b.status()
    assert (status.requeued, status.dead, status.complete, status.queued) == (1, ["a"], False, 2)
    assert redis_server.client.sismember(b.workers_key, "a") == 0
    taken = [b.pop(), b.pop()]
    assert [p[1] for p in taken if p] == [b"page-1", b"page-2"]
    assert not b.status().complete
    b.ack([p[0] for p in taken if p])
    assert b.status().complete


def test_a_restarted_worker_puts_back_what_its_killed_process_held(redis_server: RedisServer) -> None:
    a = coordinator(redis_server, "a")
    a.acquire()
    a.join()
    a.push("fp1", 0, b"page-1")
    a.pop()
    again = coordinator(redis_server, "a")
    assert again.requeue_own() == 1
    assert again.queued() == 1 and redis_server.client.exists(a.held_key) == 0


def test_a_second_live_process_with_the_same_worker_id_is_refused(redis_server: RedisServer) -> None:
    first = coordinator(redis_server, "w1")
    first.acquire()
    with pytest.raises(RunLocked, match=r"worker w1 is already running .* give this process another WORKER_ID"):
        coordinator(redis_server, "w1").acquire()
    first.release()
    coordinator(redis_server, "w1").acquire()


def test_a_lease_left_by_a_dead_process_of_this_host_is_taken_at_once(redis_server: RedisServer) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(gone.stdout)
    lease_key = coordinator(redis_server, "w1").lease_key
    redis_server.client.set(lease_key, f"{socket.gethostname()} pid {pid} since 2026-01-01T00:00:00Z", px=60_000)
    fresh = coordinator(redis_server, "w1")
    fresh.acquire()
    assert redis_server.client.get(lease_key) == fresh.lease.encode()
    # Another host's lease is never second-guessed.
    redis_server.client.set(lease_key, f"otherbox pid {pid} since 2026-01-01T00:00:00Z", px=60_000)
    with pytest.raises(RunLocked, match="otherbox"):
        coordinator(redis_server, "w1").acquire()


def test_renewing_a_lease(redis_server: RedisServer) -> None:
    a = coordinator(redis_server, "a", lease=5)
    a.acquire()
    assert a.renew() == 1
    redis_server.client.delete(a.lease_key)  # taken for dead during a long stall
    assert a.renew() == 2
    redis_server.client.set(a.lease_key, "someone else")
    assert a.renew() == 0
    a.release()
    assert redis_server.client.get(a.lease_key) == b"someone else"  # not ours to delete


def test_worker_ids_are_checked_and_default_to_host_and_pid() -> None:
    assert worker_id("") == f"{socket.gethostname()}-{os.getpid()}"
    assert worker_id("box1-a") == "box1-a"
    with pytest.raises(ValueError, match=r"WORKER_ID='a/b' cannot name files: .* e.g. -s WORKER_ID=box1-a"):
        worker_id("a/b")
    assert crawl_id("") == "" and crawl_id("20260131T10") == "20260131T10"
    with pytest.raises(ValueError, match=r"REDIS_CRAWL_ID='a b' must be up to 64 letters"):
        crawl_id("a b")


def test_a_bad_lease_names_the_value_and_the_fix(redis_server: RedisServer) -> None:
    with pytest.raises(ValueError, match=r"REDIS_LEASE_SECONDS=0 must be a positive number of seconds"):
        coordinator(redis_server, "a", lease=0)
