"""RedisState keeps what SqliteState keeps, the same way; plus claims, shared thread progress, digest index."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from crawler.errors import OutputError
from crawler.state import CrawlState, ThreadState
from crawler.state.progress import ThreadProgress
from crawler.state.redis import Original, RedisState, redacted
from crawler.state.sqlite import SqliteState
from tests.distributed.conftest import RedisServer, free_port


@pytest.fixture(params=["sqlite", "redis"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CrawlState]:
    """Both stores, so that every semantic test below proves they agree."""
    store: CrawlState
    if request.param == "sqlite":
        store = SqliteState(tmp_path / "state.sqlite")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        store = RedisState(redis.Redis.from_url(server.url), "t", server.url)
    yield store
    store.close()


def test_threads_round_trip_and_replace(state: CrawlState) -> None:
    assert state.thread("42") is None
    state.save_thread(ThreadState("42", "2018-09-14T10:11", 3, 47))
    state.save_thread(ThreadState("43", None, 1, 1))
    assert state.thread("42") == ThreadState("42", "2018-09-14T10:11", 3, 47)
    assert state.thread("43") == ThreadState("43", None, 1, 1)
    state.save_thread(ThreadState("42", "2018-09-15T08:00", 4, 61))
    assert state.thread("42") == ThreadState("42", "2018-09-15T08:00", 4, 61)


def test_emitted_versions_keep_their_order_and_index(state: CrawlState) -> None:
    assert not state.emitted("post", "43000001")
    state.mark_emitted("post", "43000001")
    state.mark_emitted("post", "43000001")
    assert state.emitted("post", "43000001")
    assert not state.emitted("post", "43000001", "v1")
    assert state.emitted_versions("post", "43000001") == [""]
    for version in ("h2", "h1", "h2", "h3"):
        state.mark_emitted("article", "doc1", version)
    assert state.emitted_versions("article", "doc1") == ["h2", "h1", "h3"]
    assert state.emitted("article", "doc1", "h1") and not state.emitted("article", "doc1", "h9")
    state.mark_emitted("article", "doc2", "h1")
    assert state.key_of_version("article", "h1") == "doc1"  # the first record emitted with it
    assert state.key_of_version("article", "h3") == "doc1"
    assert state.key_of_version("article", "nope") is None
    assert not state.emitted("post", "doc1", "h1")  # kinds are apart


def test_checkpoints_only_move_forward(state: CrawlState) -> None:
    assert state.checkpoint("/d/tsv/51credit/2026-01-01.w1.tsv") == 0
    state.set_checkpoint("/d/tsv/51credit/2026-01-01.w1.tsv", 500)
    state.set_checkpoint("/d/tsv/51credit/2026-01-01.w1.tsv", 200)
    assert state.checkpoint("/d/tsv/51credit/2026-01-01.w1.tsv") == 500
    state.set_checkpoint("/d/tsv/51credit/2026-01-01.w1.tsv", 800)
    state.flush()
    assert state.checkpoint("/d/tsv/51credit/2026-01-01.w1.tsv") == 800
    assert state.checkpoint("/d/other.tsv") == 0


def test_checkpoints_of_the_same_path_on_two_hosts_are_apart(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    one = RedisState(client, "t", redis_server.url, host="box1")
    two = RedisState(client, "t", redis_server.url, host="box2")
    one.set_checkpoint("/srv/crawl/tsv/51credit/2026-01-01.w.tsv", 900)
    assert two.checkpoint("/srv/crawl/tsv/51credit/2026-01-01.w.tsv") == 0
    assert one.checkpoint("/srv/crawl/tsv/51credit/2026-01-01.w.tsv") == 900


def test_claims_are_exclusive_and_end_when_the_record_is_marked(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    state = RedisState(client, "t", redis_server.url)
    alive_a, alive_b = "t:51credit:lease:a", "t:51credit:lease:b"
    client.set(alive_a, "box pid 1")
    client.set(alive_b, "box pid 2")
    assert state.claim("post", "7", "", alive_a).outcome == "claimed"
    assert state.claim("post", "7", "", alive_a).outcome == "mine"
    held = state.claim("post", "7", "", alive_b)
    assert (held.outcome, held.holder) == ("held", alive_a)
    state.mark_emitted("post", "7")
    assert client.exists(state.claim_key("post", "7")) == 0
    assert state.claim("post", "7", "", alive_b).outcome == "emitted"
    # A new version of a record is a new record to claim.
    state.mark_emitted("article", "doc", "h1")
    assert state.claim("article", "doc", "h1", alive_b).outcome == "emitted"
    assert state.claim("article", "doc", "h2", alive_b).outcome == "claimed"


def test_a_dead_holders_claim_is_taken_over_and_recorded(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    state = RedisState(client, "t", redis_server.url)
    dead, alive = "t:51credit:lease:gone", "t:51credit:lease:b"
    client.set(dead, "box pid 1")
    client.set(alive, "box pid 2")
    assert state.claim("post", "8", "", dead).outcome == "claimed"
    client.delete(dead)  # its lease expired
    taken = state.claim("post", "8", "", alive)
    assert (taken.outcome, taken.holder) == ("taken", dead)
    assert state.claim("post", "8", "", alive).outcome == "mine"
    assert list(state.takeovers()) == ["post\t8\t"]
    assert state.takeovers()["post\t8\t"][:2] == [dead, alive]


def test_claims_expire_even_if_nobody_looks(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    state = RedisState(client, "t", redis_server.url)
    client.set("t:x:lease:a", "box pid 1")
    state.claim("post", "9", "", "t:x:lease:a", ttl=100)
    assert 0 < int(client.ttl(state.claim_key("post", "9"))) <= 100


def _walk(progress: ThreadProgress, other: ThreadProgress | None = None) -> list[ThreadState | None]:
    """Thread 5 with 3 pages (20, 20, 7 posts): page 1 here, pages 2 and 3 parsed by ``other``."""
    other = other or progress
    done: list[ThreadState | None] = []
    progress.page_requested("5", 1, "2018-09-14T10:11")
    done.append(progress.page_parsed("5", 1, 3, 20, 2))
    other.page_requested("5", 2, "2018-09-14T10:11")
    other.page_requested("5", 3, "2018-09-14T10:11")
    done.append(other.page_parsed("5", 3, 3, 7, 1))
    done.append(other.item_done("5"))
    done.append(progress.item_done("5"))
    done.append(other.page_parsed("5", 2, 3, 20, 0))
    done.append(progress.item_done("5"))
    return done


def test_thread_progress_adds_up_across_workers(redis_server: RedisServer) -> None:
    expected = ThreadState("5", "2018-09-14T10:11", 3, 47)
    local = _walk(ThreadProgress(20))
    assert local[-1] == expected and not any(local[:-1])
    client = redis.Redis.from_url(redis_server.url)
    a = RedisState(client, "t", redis_server.url).thread_progress("51credit", 20)
    b = RedisState(client, "t", redis_server.url).thread_progress("51credit", 20)
    shared = _walk(a, b)  # type: ignore[arg-type]
    assert shared == local
    assert client.keys("t:51credit:progress:*") == []


def test_a_failed_page_on_another_worker_keeps_the_thread_unsaved(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    a = RedisState(client, "t", redis_server.url).thread_progress("51credit", 20)
    b = RedisState(client, "t", redis_server.url).thread_progress("51credit", 20)
    a.page_requested("6", 1, None)
    assert a.page_parsed("6", 1, 2, 20, 0) is None
    b.page_requested("6", 2, None)
    b.page_failed("6")
    assert a.page_parsed("6", 1, 2, 20, 0) is None
    assert b.page_parsed("6", 2, 2, 3, 0) is None
    # A page parsed of a thread nobody asked for (its state already saved) is ignored, as ThreadProgress does.
    assert a.page_parsed("777", 1, 1, 3, 0) is None


def test_digest_index_shows_originals_once_their_file_is_closed(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    index_a = RedisState(client, "t", redis_server.url).digest_index()
    index_b = RedisState(client, "t", redis_server.url).digest_index()
    first = Original("<urn:uuid:1>", "http://x/a", "2026-01-01T00:00:00Z", "51credit-w1-0001.warc.gz")
    second = Original("<urn:uuid:2>", "http://x/b", "2026-01-01T00:00:01Z", "51credit-w2-0001.warc.gz")
    index_a.add_pending("sha1:AAAA", first)
    index_b.add_pending("sha1:AAAA", second)
    assert index_b.lookup("sha1:AAAA") is None  # its file is still open
    index_b.file_closed("51credit-w2-0001.warc.gz")
    assert index_a.lookup("sha1:AAAA") == second  # the first file closed wins
    index_a.file_closed("51credit-w1-0001.warc.gz")
    assert index_a.lookup("sha1:AAAA") == second
    index_a.add_pending("sha1:BBBB", first)  # a file never closed (killed worker) stays invisible
    assert index_b.lookup("sha1:BBBB") is None


def test_an_unreachable_server_is_an_output_error_naming_it_without_the_password() -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    state = RedisState(redis.Redis.from_url(url, socket_connect_timeout=1), "t", url)
    with pytest.raises(OutputError) as failure:
        state.mark_emitted("post", "1")
    assert failure.value.errno == errno.EIO
    message = str(failure.value)
    assert "s3cret" not in message
    assert f"redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in message
    assert "check that redis-server runs there and REDIS_URL points at it" in message
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_bad_prefix_names_the_value_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r"REDIS_STATE_PREFIX='a b' must be a non-empty word"):
        RedisState(redis.Redis(), "a b")
