"""The shared side of a distributed crawl in Redis: worker leases, the request queue, held requests, completion.

Every request of a crawl is, at any moment, in exactly one place: the shared queue (a sorted set, the
layout of scrapy-redis's ``PriorityQueue``) or the *held* hash of the worker that popped it, until that
worker's engine is done with it (response parsed, items written, follow-up requests queued). A worker
whose lease expired is dead: whoever notices first puts its held requests back in the queue. The crawl is
complete when the queue is empty and no worker holds anything; the first worker to see it clears the
shared dupefilter, so that the next crawl starts afresh, and records the crawl's id as finished, so that
a worker started late for it (same ``REDIS_CRAWL_ID``) does not start another.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import redis

from crawler.errors import RunLocked
from crawler.state.redis import _text, redacted, talking_to

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SADD', KEYS[2], ARGV[3])
  return {1}
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[1]) == ARGV[4] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  return {1}
end
return {0, redis.call('GET', KEYS[1])}
"""

_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  return 2
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('HLEN', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[3])
  redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
"""

# KEYS: dupefilter, queue, finished crawls. ARGV: fingerprint, score, request, crawl id.
_PUSH = """
if redis.call('ZSCORE', KEYS[3], ARGV[4]) then return -1 end
if ARGV[1] ~= '' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: crawl, finished crawls. ARGV: the crawl id asked for ('' = any), a new id, now.
_JOIN = """
if ARGV[1] ~= '' then
  local finished = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if finished then return {'finished', ARGV[1], finished} end
end
local current = redis.call('HGET', KEYS[1], 'id')
if current then return {'joined', current, redis.call('HGET', KEYS[1], 'started')} end
local id = ARGV[1] ~= '' and ARGV[1] or ARGV[2]
redis.call('HSET', KEYS[1], 'id', id, 'started', ARGV[3])
return {'started', id, ARGV[3]}
"""

_POP = """
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 then return false end
redis.call('ZREM', KEYS[1], first[1])
local token = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], token, first[2] .. '\\n' .. first[1])
return {token, first[1]}
"""

# Moves every request of held hash KEYS[1] back into queue KEYS[2]; returns how many.
_REQUEUE_HELD = """
local function requeue(held, queue)
  local entries = redis.call('HGETALL', held)
  for i = 2, #entries, 2 do
    local cut = string.find(entries[i], '\\n', 1, true)
    redis.call('ZADD', queue, string.sub(entries[i], 1, cut - 1), string.sub(entries[i], cut + 1))
  end
  redis.call('DEL', held)
  return #entries / 2
end
"""

_REQUEUE_OWN = _REQUEUE_HELD + """
return requeue(KEYS[1], KEYS[2])
"""

# KEYS: queue, workers, dupefilter, crawl, finished crawls. ARGV: lease prefix, held prefix, now (epoch).
_STATUS = _REQUEUE_HELD + """
local requeued, busy, dead = 0, {}, {}
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local held = ARGV[2] .. worker
  if redis.call('EXISTS', ARGV[1] .. worker) == 0 then
    requeued = requeued + requeue(held, KEYS[1])
    redis.call('SREM', KEYS[2], worker)
    dead[#dead + 1] = worker
  elseif redis.call('HLEN', held) > 0 then
    busy[#busy + 1] = worker
  end
end
local queued = redis.call('ZCARD', KEYS[1])
local complete = 0
if queued == 0 and #busy == 0 then
  complete = 1
  redis.call('DEL', KEYS[3])
  local id = redis.call('HGET', KEYS[4], 'id')
  if id then
    redis.call('ZADD', KEYS[5], ARGV[3], id)
    redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -1001)
    redis.call('DEL', KEYS[4])
  end
end
return {complete, queued, requeued, table.concat(busy, ' '), table.concat(dead, ' ')}
"""


@dataclass(frozen=True)
class Joined:
    """Which crawl this worker takes part in."""

    outcome: str
    """``started`` (a new crawl), ``joined`` (one going already) or ``finished`` (the crawl id asked for is over)."""
    crawl_id: str
    since: str
    """When it started (UTC), or when it finished (epoch seconds) for ``finished``."""


@dataclass(frozen=True)
class CrawlStatus:
    """What every worker of the crawl sees at one moment."""

    complete: bool
    """Nothing queued, nothing held: the crawl is over (and its dupefilter was cleared)."""
    queued: int
    requeued: int
    """Requests of dead workers put back in the queue by this look."""
    busy: list[str]
    """Live workers holding requests."""
    dead: list[str]
    """Workers whose lease had expired, now forgotten."""


def lease_value() -> str:
    return f"{socket.gethostname()} pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Coordinator:
    """One worker's handle on the shared crawl of one spider (no Scrapy here: plain values in and out)."""

    def __init__(self, client: redis.Redis, prefix: str, spider: str, worker: str, lease_seconds: float,
                 url: str = "redis://", crawl_id: str = "") -> None:
        if lease_seconds <= 0:
            raise ValueError(f"REDIS_LEASE_SECONDS={lease_seconds!r} must be a positive number of seconds, e.g. 30")
        self.client = client
        self.url = url
        self.worker = worker
        self.lease_ms = int(lease_seconds * 1000)
        base = f"{prefix}:{spider}"
        self.queue_key = f"{base}:requests"
        self.dupefilter_key = f"{base}:dupefilter"
        self.workers_key = f"{base}:workers"
        self.lease_prefix = f"{base}:lease:"
        self.held_prefix = f"{base}:held:"
        self.lease_key = self.lease_prefix + worker
        self.held_key = self.held_prefix + worker
        self.tokens_key = f"{base}:tokens"
        self.crawl_key = f"{base}:crawl"
        self.finished_key = f"{base}:finished-crawls"
        self.crawl_id = crawl_id
        self.lease = lease_value()
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._push = client.register_script(_PUSH)
        self._join = client.register_script(_JOIN)
        self._pop = client.register_script(_POP)
        self._requeue_own = client.register_script(_REQUEUE_OWN)
        self._status = client.register_script(_STATUS)

    def talking(self) -> Any:
        return talking_to(self.url)

    # --- the worker's lease: the run lock of distributed mode -------------------------------------------
    def acquire(self) -> None:
        """Take this worker id's lease, or raise RunLocked naming the live process that has it.

        A lease left by a process of this host that no longer exists (killed with the same WORKER_ID) is
        taken over at once instead of waiting for it to expire.
        """
        keys = [self.lease_key, self.workers_key]
        with self.talking():
            answer = cast(list[Any], self._acquire(keys=keys, args=[self.lease, self.lease_ms, self.worker, ""]))
            if answer[0] == 1:
                return
            holder = _text(answer[1]) if answer[1] is not None else ""
            host, _, rest = holder.partition(" pid ")
            pid = rest.split(" ", 1)[0]
            if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                args: list[str | int] = [self.lease, self.lease_ms, self.worker, holder]
                answer = cast(list[Any], self._acquire(keys=keys, args=args))
                if answer[0] == 1:
                    return
        raise RunLocked(f"worker {self.worker} is already running ({holder}) in the crawl at {redacted(self.url)}; "
                        "give this process another WORKER_ID (or wait for that one to stop)")

    def renew(self) -> int:
        """1: renewed; 2: it had expired (this worker was taken for dead) and is taken again; 0: another has it."""
        with self.talking():
            return int(cast(int, self._renew(keys=[self.lease_key, self.workers_key],
                                             args=[self.lease, self.lease_ms, self.worker])))

    def release(self) -> None:
        with self.talking():
            self._release(keys=[self.lease_key, self.workers_key, self.held_key], args=[self.lease, self.worker])

    # --- the queue --------------------------------------------------------------------------------------
    def join(self) -> Joined:
        """Take part in the crawl ``crawl_id`` names, or the one going, or start one; sets ``crawl_id``."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        new = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.urandom(3).hex()}"
        with self.talking():
            answer = cast(list[Any], self._join(keys=[self.crawl_key, self.finished_key],
                                                args=[self.crawl_id, new, now]))
        joined = Joined(*(_text(v) for v in answer))
        self.crawl_id = joined.crawl_id
        return joined

    def push(self, fingerprint: str, score: float, data: bytes) -> bool:
        """Queue ``data`` unless ``fingerprint`` (empty = never filtered) is in this crawl's dupefilter, or
        the crawl this worker joined is over (a late start request must not begin another one)."""
        with self.talking():
            return int(cast(int, self._push(keys=[self.dupefilter_key, self.queue_key, self.finished_key],
                                            args=[fingerprint, score, data, self.crawl_id]))) == 1

    def pop(self) -> tuple[str, bytes] | None:
        """The first queued request, now held by this worker under the returned token."""
        with self.talking():
            answer = self._pop(keys=[self.queue_key, self.held_key, self.tokens_key])
        if not answer:
            return None
        token, data = cast(list[Any], answer)
        return _text(token), bytes(data)

    def ack(self, tokens: Iterable[str]) -> None:
        """The engine is done with these requests: they are no longer held."""
        tokens = list(tokens)
        if tokens:
            with self.talking():
                self.client.hdel(self.held_key, *tokens)

    def requeue_own(self) -> int:
        """Put what this worker id still holds back in the queue (left by a killed earlier process of it)."""
        with self.talking():
            return int(cast(int, self._requeue_own(keys=[self.held_key, self.queue_key])))

    def queued(self) -> int:
        with self.talking():
            return int(self.client.zcard(self.queue_key))

    def status(self) -> CrawlStatus:
        """Put dead workers' requests back, then say whether the crawl is complete (clearing it if so)."""
        keys = [self.queue_key, self.workers_key, self.dupefilter_key, self.crawl_key, self.finished_key]
        with self.talking():
            args: list[str | int] = [self.lease_prefix, self.held_prefix, int(time.time())]
            answer = cast(list[Any], self._status(keys=keys, args=args))
        complete, queued, requeued, busy, dead = answer
        return CrawlStatus(bool(complete), int(queued), int(requeued), _text(busy).split(), _text(dead).split())
