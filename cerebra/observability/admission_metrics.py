"""Prometheus view of the local models' admission queues and stopped generations.

A collector read at scrape time: for every model of the registry that sits behind a
QueuedBackend, the requests running and waiting, the ones refused (429), and the generations
stopped early by reason ("cancelled": client gone; "timeout": wall-clock limit) with the
completion tokens they produced and the time from the cancel to the stop.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cerebra.models.queued import QueuedBackend
from cerebra.models.registry import ModelRegistry


def queued_layer(backend: object) -> QueuedBackend | None:
    """The QueuedBackend in `backend`'s chain of wrappers (through `.inner`), if any."""
    for _ in range(16):
        if backend is None:
            return None
        if isinstance(backend, QueuedBackend):
            return backend
        backend = getattr(backend, "inner", None)
    return None


class AdmissionCollector(Collector):
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        running = GaugeMetricFamily("cerebra_model_queue_running",
                                    "Generations running on a local model", labels=["model"])
        waiting = GaugeMetricFamily("cerebra_model_queue_waiting",
                                    "Requests waiting for a local model", labels=["model"])
        rejected = CounterMetricFamily("cerebra_model_queue_rejected",
                                       "Requests refused with 429: the queue was full",
                                       labels=["model"])
        stopped = CounterMetricFamily("cerebra_generations_stopped",
                                      "Generations stopped early, by reason",
                                      labels=["model", "reason"])
        tokens = CounterMetricFamily("cerebra_generation_stopped_tokens",
                                     "Completion tokens produced by generations stopped early",
                                     labels=["model", "reason"])
        stop_s = CounterMetricFamily("cerebra_generation_stop_seconds",
                                     "Seconds from a cancel (or deadline) to the stop, summed",
                                     labels=["model", "reason"])
        for name, backend in self.registry.items():
            layer = queued_layer(backend)
            if layer is None:
                continue
            queue = layer.queue_stats()
            running.add_metric([name], queue.active)
            waiting.add_metric([name], queue.queued)
            rejected.add_metric([name], queue.rejected)
            stops = layer.stop_stats()
            for reason, count in sorted(stops.count.items()):
                stopped.add_metric([name, reason], count)
                tokens.add_metric([name, reason], stops.tokens.get(reason, 0))
                stop_s.add_metric([name, reason], stops.stop_seconds.get(reason, 0.0))
        yield from (running, waiting, rejected, stopped, tokens, stop_s)
