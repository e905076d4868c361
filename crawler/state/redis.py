"""The crawl state in Redis (``REDIS_URL``): what SQLite keeps, shared by every worker of a distributed crawl.

Same semantics as :mod:`crawler.state.sqlite` (threads, emitted records with versions, checkpoints), plus
what only many processes need: atomic claims on records about to be written, the WARC digest index, and
per-thread progress that pages fetched by different workers add up to. Every key starts with
``REDIS_STATE_PREFIX``. One Redis server (not a Cluster): scripts reach keys named by the data they read.
"""

from __future__ import annotations

import errno
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from scrapy.settings import BaseSettings

from crawler.errors import OutputError
from crawler.state import ThreadState

#: How long a record's claim lives at most; it is taken over sooner when its holder's lease is gone.
CLAIM_TTL_SECONDS = 24 * 3600
#: How long a thread's shared progress is kept without a change (an abandoned crawl's leftovers).
PROGRESS_TTL_SECONDS = 3 * 24 * 3600


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def client_for(url: str) -> redis.Redis:
    """A client of the server at ``url``, answers decoded as UTF-8 text except where scripts say otherwise."""
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"REDIS_URL={redacted(url)!r} is not a redis://, rediss:// or unix:// URL; "
                         "e.g. -s REDIS_URL=redis://127.0.0.1:6379/0")
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, health_check_interval=30)


@contextmanager
def talking_to(url: str) -> Iterator[None]:
    """A failed Redis command becomes an OutputError naming the server and the fix."""
    try:
        yield
    except redis.RedisError as exc:
        raise OutputError(errno.EIO, f"cannot use the crawl state in Redis at {redacted(url)}: {exc}; "
                                     "check that redis-server runs there and REDIS_URL points at it") from exc


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Claim:
    """What :meth:`RedisState.claim` found."""

    outcome: str
    """``claimed`` (now ours), ``emitted`` (written already), ``mine`` (ours already), ``held`` (a live worker's),
    ``taken`` (its holder's lease is gone: now ours; the dead holder may have written it just before dying)."""
    holder: str | None = None
    """The lease key of the worker that held the claim before (``held``, ``taken``)."""


@dataclass(frozen=True)
class Original:
    """A WARC response record a revisit may refer to (the fields of ``archive.digests.Original``)."""

    record_id: str
    target_uri: str
    date: str
    filename: str


# Emitted versions of a record: a JSON list per key in hash ``{prefix}:emitted:{kind}``.
_CLAIM = """
local versions = redis.call('HGET', KEYS[1], ARGV[1])
if versions then
  for _, v in ipairs(cjson.decode(versions)) do
    if v == ARGV[2] then return {'emitted'} end
  end
end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4]) then return {'claimed'} end
local holder = redis.call('GET', KEYS[2])
if holder == ARGV[3] then
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return {'mine'}
end
if holder and redis.call('EXISTS', holder) == 1 then return {'held', holder} end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
if holder then
  redis.call('HSET', KEYS[3], ARGV[5], cjson.encode({holder, ARGV[3], ARGV[6]}))
  return {'taken', holder}
end
return {'claimed'}
"""

_MARK = """
local versions = {}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then versions = cjson.decode(raw) end
local seen = false
for _, v in ipairs(versions) do
  if v == ARGV[2] then seen = true end
end
if not seen then
  versions[#versions + 1] = ARGV[2]
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(versions))
end
if ARGV[2] ~= '' then redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[1]) end
redis.call('DEL', KEYS[2])
return seen and 0 or 1
"""

_CHECKPOINT = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""


class RedisState:
    """The :class:`~crawler.state.CrawlState` of a distributed crawl; every change is one atomic command.

    Durability is the server's: run it with ``appendonly yes`` (README, "Distributed crawling") so that a
    Redis restart keeps what was marked; :meth:`flush` has nothing left to do.
    """

    def __init__(self, client: redis.Redis, prefix: str, url: str = "redis://", host: str | None = None) -> None:
        if not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"REDIS_STATE_PREFIX={prefix!r} must be a non-empty word without spaces, "
                             "e.g. -s REDIS_STATE_PREFIX=crawler")
        self.client = client
        self.prefix = prefix
        self.url = url
        self.host = host or socket.gethostname()
        self._claim = client.register_script(_CLAIM)
        self._mark = client.register_script(_MARK)
        self._checkpoint = client.register_script(_CHECKPOINT)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RedisState:
        url = settings.get("REDIS_URL")
        state = cls(client_for(url), settings.get("REDIS_STATE_PREFIX") or "crawler", url)
        with state.talking():
            state.client.ping()
        return state

    def talking(self) -> Any:
        return talking_to(self.url)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # --- threads -----------------------------------------------------------------------------------------
    def thread(self, tid: str) -> ThreadState | None:
        with self.talking():
            raw = self.client.hget(self.key("threads"), tid)
        if raw is None:
            return None
        last_reply, pages, posts_seen = json.loads(_text(raw))
        return ThreadState(tid, last_reply, int(pages), int(posts_seen))

    def save_thread(self, state: ThreadState) -> None:
        value = json.dumps([state.last_reply, state.pages, state.posts_seen])
        with self.talking():
            self.client.hset(self.key("threads"), state.tid, value)

    # --- emitted records -----------------------------------------------------------------------------------
    def emitted(self, kind: str, key: str, version: str = "") -> bool:
        return version in self.emitted_versions(kind, key)

    def emitted_versions(self, kind: str, key: str) -> list[str]:
        with self.talking():
            raw = self.client.hget(self.key("emitted", kind), key)
        return [str(v) for v in json.loads(_text(raw))] if raw is not None else []

    def key_of_version(self, kind: str, version: str) -> str | None:
        with self.talking():
            raw = self.client.hget(self.key("version", kind), version)
        return _text(raw) if raw is not None else None

    def claim_key(self, kind: str, key: str, version: str = "") -> str:
        return self.key("claim", kind, f"{key}|{version}")

    def mark_emitted(self, kind: str, key: str, version: str = "") -> None:
        """Record that ``key`` was durably written, and drop its claim."""
        keys = [self.key("emitted", kind), self.claim_key(kind, key, version), self.key("version", kind)]
        with self.talking():
            self._mark(keys=keys, args=[key, version])

    def claim(self, kind: str, key: str, version: str, holder: str, ttl: int = CLAIM_TTL_SECONDS) -> Claim:
        """Atomically: is the record emitted? If not, make ``holder`` (a worker's lease key) its only writer.

        A claim whose holder's lease key is gone (the worker died or stopped) is taken over, and the
        takeover is recorded in ``{prefix}:takeovers``.
        """
        keys = [self.key("emitted", kind), self.claim_key(kind, key, version), self.key("takeovers")]
        record = f"{kind}\t{key}\t{version}"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self.talking():
            answer = self._claim(keys=keys, args=[key, version, holder, ttl, record, now])
        values = [_text(v) for v in cast(list[Any], answer)]
        return Claim(values[0], values[1] if len(values) > 1 else None)

    def takeovers(self) -> dict[str, list[str]]:
        """``kind\\tkey\\tversion`` -> [dead holder, new holder, when] of every claim taken over."""
        with self.talking():
            raw = cast(dict[Any, Any], self.client.hgetall(self.key("takeovers")))
        return {_text(k): [str(x) for x in json.loads(_text(v))] for k, v in raw.items()}

    # --- checkpoints ------------------------------------------------------------------------------------
    def _source(self, source: str) -> str:
        # Paths are per machine: two workers' DATA_DIRs may have the same path on different hosts.
        return f"{self.host}:{source}"

    def set_checkpoint(self, source: str, offset: int) -> None:
        with self.talking():
            self._checkpoint(keys=[self.key("checkpoints")], args=[self._source(source), offset])

    def checkpoint(self, source: str) -> int:
        with self.talking():
            raw = self.client.hget(self.key("checkpoints"), self._source(source))
        return int(raw) if raw is not None else 0

    def flag(self, name: str) -> str | None:
        with self.talking():
            raw = self.client.hget(self.key("flags"), name)
        return raw.decode() if isinstance(raw, bytes) else raw

    def set_flag(self, name: str, value: str | None) -> None:
        with self.talking():
            if value is None:
                self.client.hdel(self.key("flags"), name)
            else:
                self.client.hset(self.key("flags"), name, value)

    # --- shared helpers -----------------------------------------------------------------------------------
    def digest_index(self, make: Callable[..., Any] = Original) -> RedisDigestIndex:
        """The WARC payload-digest index of every worker (``archive.digests.DigestIndex``'s methods)."""
        return RedisDigestIndex(self, make)

    def thread_progress(self, spider: str, posts_per_page: int) -> RedisThreadProgress:
        return RedisThreadProgress(self, spider, posts_per_page)

    def flush(self) -> None:
        """Nothing is buffered here: each change was one command to the server."""

    def close(self) -> None:
        self.client.close()


_FILE_CLOSED = """
local pending = redis.call('HGETALL', KEYS[1])
for i = 1, #pending, 2 do redis.call('HSETNX', KEYS[2], pending[i], pending[i + 1]) end
redis.call('DEL', KEYS[1])
return #pending / 2
"""


class RedisDigestIndex:
    """Payload digest -> first original response, as ``archive.digests.SqliteDigestIndex`` keeps it, for all workers.

    An original becomes visible only once its file is closed; the first file closed wins for a digest.
    Originals of a file that never closes (its worker was killed) stay pending, so no revisit ever points
    into a salvaged file's lost tail.
    """

    def __init__(self, state: RedisState, make: Callable[..., Any] = Original) -> None:
        self.state = state
        self.make = make
        self._file_closed = state.client.register_script(_FILE_CLOSED)

    def lookup(self, digest: str) -> Any:
        with self.state.talking():
            raw = self.state.client.hget(self.state.key("warc", "digests"), digest)
        if raw is None:
            return None
        record_id, target_uri, date, filename = json.loads(_text(raw))
        return self.make(record_id=record_id, target_uri=target_uri, date=date, filename=filename)

    def add_pending(self, digest: str, original: Any) -> None:
        value = json.dumps([original.record_id, original.target_uri, original.date, original.filename])
        with self.state.talking():
            self.state.client.hsetnx(self.state.key("warc", "pending", original.filename), digest, value)

    def file_closed(self, filename: str) -> None:
        keys = [self.state.key("warc", "pending", filename), self.state.key("warc", "digests")]
        with self.state.talking():
            self._file_closed(keys=keys)

    def close(self) -> None:
        """The client belongs to the state, which closes it."""


# A thread's shared progress: hash {prefix}:{spider}:progress:{tid} with `last_reply` (JSON), `total`,
# `failed`, `e:{page}` for each page expected and `c:{page}` = posts on it for each page complete (parsed
# and every item of it written or dropped).
_REQUESTED = """
redis.call('HSETNX', KEYS[1], 'last_reply', ARGV[2])
redis.call('HSET', KEYS[1], 'e:' .. ARGV[1], '1')
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

_PARSED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local total = tonumber(ARGV[2])
if total > tonumber(redis.call('HGET', KEYS[1], 'total') or '0') then
  redis.call('HSET', KEYS[1], 'total', total)
end
for page = tonumber(ARGV[1]), total do redis.call('HSET', KEYS[1], 'e:' .. page, '1') end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

_COMPLETE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], 'c:' .. ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[1], 'failed') then return false end
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if total == 0 then return false end
local fields = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(fields) do
  if string.sub(field, 1, 2) == 'e:' and redis.call('HEXISTS', KEYS[1], 'c:' .. string.sub(field, 3)) == 0 then
    return false
  end
end
local last_posts = redis.call('HGET', KEYS[1], 'c:' .. total) or '0'
local last_reply = redis.call('HGET', KEYS[1], 'last_reply') or 'null'
redis.call('DEL', KEYS[1])
return {last_reply, total, last_posts}
"""


class RedisThreadProgress:
    """:class:`~crawler.state.progress.ThreadProgress` for a crawl whose thread pages land on different workers.

    Which pages a thread has and which are complete is shared; the items of a page are counted where the
    page was parsed (they are written there), and the page is published complete when none is left.
    A thread with a failed page or item, or whose worker died mid-page, is never reported done: the next
    crawl fetches it again and its posts are deduplicated.
    """

    def __init__(self, state: RedisState, spider: str, posts_per_page: int) -> None:
        self.state = state
        self.spider = spider
        self.posts_per_page = posts_per_page
        self.pending: dict[str, int] = {}
        self.parsed: dict[str, dict[int, int]] = {}
        self.failed: set[str] = set()
        client = state.client
        self._requested = client.register_script(_REQUESTED)
        self._parsed = client.register_script(_PARSED)
        self._complete = client.register_script(_COMPLETE)

    def _key(self, tid: str) -> str:
        return self.state.key(self.spider, "progress", tid)

    def page_requested(self, tid: str, page: int, last_reply: str | None) -> None:
        with self.state.talking():
            self._requested(keys=[self._key(tid)], args=[page, json.dumps(last_reply), PROGRESS_TTL_SECONDS])

    def page_parsed(self, tid: str, page: int, total_pages: int, posts: int, items: int) -> ThreadState | None:
        with self.state.talking():
            known = self._parsed(keys=[self._key(tid)], args=[page, total_pages, PROGRESS_TTL_SECONDS])
        if not known:
            return None
        self.parsed.setdefault(tid, {})[page] = posts
        self.pending[tid] = self.pending.get(tid, 0) + items
        return self._publish(tid)

    def page_failed(self, tid: str) -> None:
        self.failed.add(tid)
        with self.state.talking():
            pipe = self.state.client.pipeline()
            pipe.hset(self._key(tid), "failed", "1")
            pipe.expire(self._key(tid), PROGRESS_TTL_SECONDS)
            pipe.execute()

    def item_done(self, tid: str, ok: bool = True) -> ThreadState | None:
        if tid not in self.pending:
            return None
        self.pending[tid] -= 1
        if not ok:
            self.page_failed(tid)
        return self._publish(tid)

    def _publish(self, tid: str) -> ThreadState | None:
        """Once no item of ``tid`` parsed here is pending, its pages parsed here are complete."""
        if self.pending.get(tid, 0) > 0:
            return None
        self.pending.pop(tid, None)
        pages = self.parsed.pop(tid, {})
        if tid in self.failed:
            return None
        args: list[Any] = [PROGRESS_TTL_SECONDS]
        for page, posts in sorted(pages.items()):
            args += [page, posts]
        with self.state.talking():
            done = self._complete(keys=[self._key(tid)], args=args)
        if not done:
            return None
        last_reply, total, last_posts = cast(list[Any], done)
        posts_seen = (int(total) - 1) * self.posts_per_page + int(last_posts)
        return ThreadState(tid, json.loads(_text(last_reply)) if last_reply else None, int(total), posts_seen)
