"""Router learning state shared by several replicas through Redis, off the request path.

Design. Each replica keeps its own strategies and learns locally at once; every reward
update is also an event (replica, seq, arm, reward, prompt features) that a background
thread publishes, batched, to a Redis stream per (tenant, scope, strategy signature);
on the same cycle (every `interval_s`, 0.2 s by default) it reads the other replicas' new
events from every stream it follows and applies them with `strategy.update`. So each
replica sees the others' learning within about two intervals (one round trip to publish,
one to read), and a request never waits on Redis.

Why replay events rather than sum statistics in Redis hashes (HINCRBYFLOAT)? Sums are
exact only for stationary strategies. The discounted ones (every update multiplies all
past evidence by `discount`) and discounted LinUCB (A <- g*A + (1-g)*ridge*I + x x^T) decay
per update, so a delta taken on one replica's clock cannot be added to another's. Replaying
the updates gives every replica the state one router would have after all of them, with
the same per-update discount; the only difference is order within one sync window (a
late event gets discount**k more weight, k = updates per window), which is bounded.
LinUCB events carry the prompt features, so A and b are rebuilt exactly.

Streams are capped (`max_stream`); each replica also writes a snapshot of a changed
bandit every `snapshot_interval_s`, and a replica that starts later loads the snapshot and
the stream after it (`shared_link`). Cooldowns (a backend entering cooldown on one replica
cools on all; a recovery clears it) and policy changes go through two more streams.
If Redis is unreachable, the exchange logs one warning, keeps the events (up to
`max_pending` per bandit) and retries; routing goes on with local state throughout.
The exchange runs as a periodic job ("router-shared:<namespace>") of the JobRunner given
as `jobs` (the runtime's), else of a private one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cerebra.errors import CerebraError, InvalidInput
from cerebra.routing.health import BackendHealth
from cerebra.routing.shared_link import BanditSlot, Entry, SharedLink, batch_fields

if TYPE_CHECKING:
    from cerebra.jobs.base import JobContext, JobRunner

log = logging.getLogger(__name__)

PolicyCallback = Callable[[str, str, Mapping[str, Any] | None], None]
_TTL_S = 30 * 24 * 3600
_READ_COUNT = 2000
_BATCH = 500  # events per stream entry
# Store a snapshot unless the stored one holds more updates: a replica that missed some
# (it joined while Redis was down and lost data) must not overwrite a fuller one.
_PUT_SNAPSHOT = """
local held = tonumber(redis.call('HGET', KEYS[1], 'n') or '-1')
if held > tonumber(ARGV[2]) then return held end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'n', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return held
"""


class RedisSharedState:
    """Exchange of bandit updates, cooldowns and policies between replicas; one per Router."""

    def __init__(self, url: str, *, namespace: str = "cerebra:router", interval_s: float = 0.2,
                 snapshot_interval_s: float = 2.0, max_stream: int = 20000,
                 max_pending: int = 50000, timeout_s: float = 0.5,
                 jobs: JobRunner | None = None) -> None:
        if not interval_s > 0 or not snapshot_interval_s > 0:
            raise InvalidInput("interval_s and snapshot_interval_s must be > 0",
                               field="interval_s")
        if max_stream < 100 or max_pending < 1:
            raise InvalidInput("max_stream must be >= 100 and max_pending >= 1",
                               field="max_stream")
        if importlib.util.find_spec("redis") is None:
            raise CerebraError("sharing router state needs the redis package "
                               "(pip install 'cerebra[redis]')")
        self.url = url
        self.namespace = namespace
        self.interval_s = interval_s
        self.snapshot_interval_s = snapshot_interval_s
        self.max_stream = max_stream
        self.max_pending = max_pending
        self.timeout_s = timeout_s
        self.replica = uuid.uuid4().hex[:12]
        self.health_stream = f"{namespace}:health"
        self.policy_stream = f"{namespace}:policy"
        self.available = True  # as of the last exchange
        self._client: Any = None
        self._put_snapshot: Any = None
        self._links: dict[tuple[str, str], SharedLink] = {}
        self._retired: list[SharedLink] = []
        self._outbox: deque[tuple[str, dict[str, str]]] = deque(maxlen=10000)  # health, policy
        self._cursors = {self.health_stream: "0-0", self.policy_stream: "0-0"}
        self._health: BackendHealth | None = None
        self._on_policy: PolicyCallback | None = None
        self._cycle_lock = threading.Lock()  # one exchange at a time
        self._links_lock = threading.Lock()  # the followed bandits
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._jobs = jobs
        self._own_jobs: JobRunner | None = None  # a private runner when none was given
        self._started = False
        self._last_try = 0.0
        self._down_since: float | None = None

    # -- wiring (called by the engine) ------------------------------------------------------
    def bind(self, health: BackendHealth, on_policy: PolicyCallback) -> None:
        if self._health is not None:
            raise InvalidInput("a RedisSharedState serves one Router; make one per Router",
                               field="shared")
        self._health, self._on_policy = health, on_policy
        health.listener = self._publish_health
        self._ensure_thread()  # hears cooldowns and policies before its first request

    def follow(self, tenant_id: str, scope: str, signature: str, slot: BanditSlot) -> SharedLink:
        """Register a new bandit (no I/O; its updates are kept from now on); `load` it next."""
        digest = hashlib.sha1(json.dumps([tenant_id, scope, signature]).encode()).hexdigest()
        link = SharedLink(self.replica, f"{self.namespace}:b:{digest[:24]}", slot,
                          self.max_pending)
        with self._links_lock:
            old = self._links.get((tenant_id, scope))
            if old is not None:
                self._retired.append(old)
            self._links[(tenant_id, scope)] = link
        return link

    def load(self, link: SharedLink) -> None:
        """Take in the shared state of a followed bandit now when Redis answers (once per
        bandit and process); otherwise the exchange thread does it when Redis is back."""
        if self.available:
            with self._cycle_lock:
                if not link.attached:
                    self._guarded(lambda: self._attach(self._redis(), link))
        self._ensure_thread()

    def _current(self) -> list[SharedLink]:
        with self._links_lock:
            return list(self._links.values())

    def publish_policy(self, tenant_id: str, agent_id: str,
                       policy: Mapping[str, Any] | None) -> None:
        self._outbox.append((self.policy_stream, {
            "r": self.replica, "t": tenant_id, "g": agent_id,
            "p": "" if policy is None else json.dumps(dict(policy))}))
        self._ensure_thread()

    def _publish_health(self, name: str, remaining_s: float, strikes: int, error: str) -> None:
        """Listener of BackendHealth: strikes > 0 = entered cooldown, 0 = recovered."""
        until = repr(time.time() + remaining_s) if strikes > 0 else "0"
        self._outbox.append((self.health_stream, {
            "r": self.replica, "b": name, "u": until, "k": str(strikes), "e": error[:300]}))
        self._ensure_thread()

    # -- the exchange ---------------------------------------------------------------------
    def sync(self, *, snapshots: bool = False) -> bool:
        """One exchange now (publish, read, due snapshots); False when Redis is unreachable."""
        with self._cycle_lock:
            return self._guarded(lambda: self._exchange(snapshots))

    def _exchange(self, snapshots: bool) -> None:
        client = self._redis()
        if self._down_since is not None:  # Redis may have restarted empty: snapshots first,
            self._write_snapshots(client, force=True, every=True)  # so none goes missing
        for link in [x for x in self._current() if x.stale or not x.attached]:
            self._attach(client, link)
        self._publish(client)
        self._read(client)
        self._write_snapshots(client, force=snapshots)

    def _guarded(self, work: Callable[[], None]) -> bool:
        """Run a piece of the exchange; a failure is logged, never raised to a request."""
        from redis.exceptions import RedisError

        try:
            work()
        except (RedisError, OSError) as exc:
            self._mark_down(exc)
            return False
        except Exception:
            log.exception("router shared state: exchange failed")
            return False
        self._mark_up()
        return True

    def _attach(self, client: Any, link: SharedLink) -> None:
        loaded = link.load_snapshot(client.hget(link.snapshot_key, "d"))
        tail = self._read_from(client, link.stream, loaded.cursor if loaded else "0-0")
        link.merge(loaded, tail)

    def _read_from(self, client: Any, stream: str, cursor: str) -> list[Entry]:
        entries: list[Entry] = []
        while True:
            got = client.xread({stream: cursor}, count=_READ_COUNT)
            batch = got[0][1] if got else []
            entries.extend(batch)
            if len(batch) < _READ_COUNT:
                return entries
            cursor = batch[-1][0]

    def _publish(self, client: Any) -> None:
        with self._links_lock:
            links = [*self._links.values(), *self._retired]
        taken = [(link, link.take_pending()) for link in links]
        outbox = list(self._outbox)
        pipe = client.pipeline(transaction=False)
        for link, events in taken:
            for start in range(0, len(events), _BATCH):
                pipe.xadd(link.stream, batch_fields(self.replica, events[start:start + _BATCH]),
                          maxlen=self.max_stream, approximate=True)
            if events:
                pipe.expire(link.stream, _TTL_S)
        for stream, fields in outbox:
            pipe.xadd(stream, fields, maxlen=1000, approximate=True)
        try:
            pipe.execute()
        except Exception:
            for link, events in taken:  # retried next cycle; duplicates are skipped by seq
                link.restore_pending(events)
            raise
        for _ in outbox:
            self._outbox.popleft()
        with self._links_lock:
            self._retired = [x for x in self._retired if x.pending]
        for link in links:
            if link.dropped:
                log.warning("router shared state: %d updates of %s dropped while Redis was "
                            "unreachable", link.dropped, link.stream)
                link.dropped = 0

    def _read(self, client: Any) -> None:
        links = {x.stream: x for x in self._current() if x.attached}
        for _ in range(50):  # catch up, in pages
            streams = {**{s: x.cursor for s, x in links.items()}, **self._cursors}
            got = client.xread(streams, count=_READ_COUNT)
            full = False
            for stream, entries in got or []:
                full = full or len(entries) >= _READ_COUNT
                if stream in links:
                    links[stream].apply(entries)
                else:
                    self._cursors[stream] = entries[-1][0]
                    self._apply_misc(stream, entries)
            if not full:
                return

    def _apply_misc(self, stream: str, entries: list[Entry]) -> None:
        for _, fields in entries:
            if fields.get("r") == self.replica:
                continue
            try:
                if stream == self.health_stream and self._health is not None:
                    self._health.apply_remote(fields["b"], float(fields["u"]) - time.time(),
                                              int(fields["k"]), fields.get("e", ""))
                elif stream == self.policy_stream and self._on_policy is not None:
                    raw = fields.get("p") or ""
                    self._on_policy(fields["t"], fields["g"], json.loads(raw) if raw else None)
            except (KeyError, ValueError, TypeError, CerebraError) as exc:
                log.warning("router shared state: bad event in %s ignored: %s", stream, exc)

    def _write_snapshots(self, client: Any, *, force: bool, every: bool = False) -> None:
        """Per followed bandit, every snapshot interval: store the snapshot when it changed
        (unless the stored one holds more updates), else read how many the stored one holds.
        A replica still behind a stored count one interval later is not lagging but missing
        updates (it joined while Redis was down and lost them): it reloads the snapshot."""
        now = time.monotonic()
        due = [x for x in self._current() if x.attached
               and (force or now - x.last_snapshot >= self.snapshot_interval_s)]
        if not due:
            return
        if self._put_snapshot is None:
            self._put_snapshot = client.register_script(_PUT_SNAPSHOT)
        pipe = client.pipeline(transaction=False)
        mine = []
        for link in due:
            if link.changed or every:
                data, step = link.snapshot()
                self._put_snapshot(keys=[link.snapshot_key], args=[data, step, _TTL_S],
                                   client=pipe)
            else:
                step = link.updates()
                pipe.hget(link.snapshot_key, "n")
            mine.append(step)
            link.last_snapshot = now
        try:
            held = pipe.execute()
        except Exception:
            for link in due:
                link.changed = True
            raise
        for link, step, stored in zip(due, mine, held, strict=True):
            stored = -1 if stored is None else int(stored)
            if link.behind is not None and step < link.behind:
                link.stale = True
            link.behind = stored if stored > step else None

    # -- connection and thread ------------------------------------------------------------
    def _redis(self) -> Any:
        if self._client is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._client = redis.Redis.from_url(
                self.url, decode_responses=True, socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s, retry=Retry(NoBackoff(), 0))
        return self._client

    def _mark_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("router shared state: Redis at %s unreachable (%s); routing goes on "
                        "with local state and retries", self.url, exc)
        self.available = False

    def _mark_up(self) -> None:
        if self._down_since is not None:
            log.warning("router shared state: Redis back after %.1f s; sharing resumed",
                        time.monotonic() - self._down_since)
            self._down_since = None
        self.available = True

    @property
    def job_name(self) -> str:
        return f"router-shared:{self.namespace}"

    def _ensure_thread(self) -> None:
        """Schedule the exchange every `interval_s` (once)."""
        if self._started or self._stop.is_set():
            return
        with self._start_lock:
            if self._started or self._stop.is_set():
                return
            runner = self._jobs
            if runner is None:
                from cerebra.jobs.inprocess import InProcessRunner

                runner = self._own_jobs = InProcessRunner(workers=1, periodic_workers=1)
            runner.schedule(self.job_name, self._tick, self.interval_s)
            self._started = True

    def _tick(self, ctx: JobContext) -> None:
        now = time.monotonic()
        if self._down_since is not None and now - self._last_try < self._next_wait():
            return  # Redis away: retried less often than every interval
        self._last_try = now
        self.sync()

    def _next_wait(self) -> float:
        if self._down_since is None:
            return self.interval_s
        return min(max(self.interval_s, 0.25) * 2, 1.0)  # retry an absent Redis every <= 1 s

    def close(self) -> None:
        """Stop the exchange after a last one (publish, snapshots) when Redis answers."""
        self._stop.set()
        with self._start_lock:
            runner = self._jobs or self._own_jobs
            if self._started and runner is not None:
                runner.unschedule(self.job_name, timeout=10)
            if self._own_jobs is not None:
                self._own_jobs.close(timeout=10)
                self._own_jobs = None
            self._started = False
        if self._links or self._outbox:
            self.sync(snapshots=True)
        if self._client is not None:
            self._client.close()
            self._client = self._put_snapshot = None
