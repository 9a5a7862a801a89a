"""Prometheus metrics of what interactions cost and use: spend, interactions, memories recalled
and stored (a sink fed every finished interaction), the ledger's write queue and the
process's memory and CPU (read at scrape time). deploy/grafana/cerebra.json charts them.

Labels take only bounded values: the serving model (a catalog name) and the entry point;
never a user, key, tenant, prompt or path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cerebra.observability.ledger import Ledger
from cerebra.observability.metrics import Metrics
from cerebra.sinks import Interaction

_RECALLED_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34)


class UsageSink:
    """A sink that counts each finished interaction's spend, tokens-independent facts and
    memory use (the token counters live on the metered backends)."""

    name = "metrics"
    follows_answer = True  # counted just after the answer is sent, when the server may

    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self.cost = Counter("cerebra_cost_usd", "Spend at the serving model's price (USD)",
                            ["model"], registry=registry)
        self.interactions = Counter("cerebra_interactions", "Finished interactions",
                                    ["model", "endpoint"], registry=registry)
        self.recalled = Histogram("cerebra_memories_recalled",
                                  "Memories recalled into the prompt per interaction",
                                  buckets=_RECALLED_BUCKETS, registry=registry)
        self.stored = Counter("cerebra_memories_stored",
                              "Exchanges stored as memories after the answer", registry=registry)

    def receive(self, interaction: Interaction) -> None:
        record = interaction.record
        model = record.model or "none"
        self.cost.labels(model).inc(max(record.cost_usd, 0.0))
        self.interactions.labels(model, record.endpoint or "library").inc()
        self.recalled.observe(len(record.memories_used))
        if record.stored_memory_uid:
            self.stored.inc()

    def close(self) -> None:
        """Nothing to release: the counters live in the app's registry."""


class LedgerQueueCollector(Collector):
    """The interaction ledger's background writer, read at scrape time."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def collect(self) -> Iterator[Metric]:
        stats = self.ledger.stats()
        queued = GaugeMetricFamily("cerebra_ledger_queue_rows",
                                   "Interaction rows waiting to be written")
        queued.add_metric([], stats.queued)
        rows = CounterMetricFamily("cerebra_ledger_rows",
                                   "Interaction rows by outcome of the write",
                                   labels=["outcome"])
        for outcome in ("written", "spilled", "replayed", "rejected", "dropped"):
            rows.add_metric([outcome], getattr(stats, outcome))
        yield from (queued, rows)


def attach_usage_metrics(app_state: Any, brain: Any, metrics: Metrics) -> None:
    """Register the usage metrics in the app's registry and feed them from `brain`'s
    interactions, once per app (a lifespan that runs again reuses them)."""
    sink = getattr(app_state, "usage_metrics", None)
    if sink is None:
        sink = UsageSink(metrics)
        metrics.registry.register(LedgerQueueCollector(brain.ledger))
        ProcessCollector(registry=metrics.registry)  # process_resident_memory_bytes, CPU
        app_state.usage_metrics = sink
    if sink not in brain.sinks:
        brain.sinks.append(sink)
