"""Drift detection: for each scope of a tenant (all, each agent, each task) compare the recent
window with the reference window just before it on four signals — the prompts' embeddings
(MMD with a permutation p-value, and the centroids' cosine distance), the scores signals gave
(Kolmogorov–Smirnov and PSI), the latencies (likewise) and the share of good feedback (a
two-proportion z test) — store each report, and raise an alert for a drifted signal: stored,
sent through the Notifier, and (when asked) starting the task's retraining.

A signal is tested only with at least `min_samples` in each window; it drifted when its
p-value is below `alpha` (scores and latencies also need PSI ≥ PSI_MIN, so a large sample's
negligible shift is not an alert). One (scope, signal) raises at most one alert per recent
window: a drift that lasts is not announced at every check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from cerebra.config_observe import DriftSettings
from cerebra.context import RequestContext
from cerebra.observability.drift_data import DriftData, Sample, Window, check_scope, tenant_ids
from cerebra.observability.drift_stats import (
    TestResult,
    centroid_distance,
    feedback_test,
    ks_test,
    mmd_test,
    psi,
)
from cerebra.observability.drift_store import DriftStore
from cerebra.observability.notify import LogNotifier, Notification, Notifier

log = logging.getLogger(__name__)
SIGNALS = ("embedding", "score", "latency", "feedback")
PSI_MIN = 0.1  # the conventional bound of a "moderate" population shift
PERMUTATIONS = 200  # MMD's permutation test: p-values down to 1/201
BUCKETS = 20  # points of a report's series over both windows

Retrain = Callable[[str, str, str], "dict[str, Any] | None"]  # (tenant, task, reason) → event


class Embed(Protocol):
    def embed(self, texts: Sequence[str]) -> Any: ...


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def _spread(items: list[Any], k: int) -> list[int]:
    """Indices of at most `k` items evenly spread over `items`."""
    if len(items) <= k:
        return list(range(len(items)))
    return sorted({int(i) for i in np.linspace(0, len(items) - 1, k)})


def _series(times: list[float], values: list[float], start: float, end: float,
            reduce: Callable[[list[Any]], float]) -> list[dict[str, float]]:
    width = (end - start) / BUCKETS
    buckets: dict[int, list[Any]] = {}
    for t, v in zip(times, values, strict=True):
        buckets.setdefault(min(int((t - start) / width), BUCKETS - 1), []).append(v)
    return [{"t": round(start + (i + 0.5) * width, 3), "value": round(reduce(b), 6)}
            for i, b in sorted(buckets.items())]


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


class DriftDetector:
    """Checks a tenant's scopes (or every tenant's) and keeps what it finds."""

    def __init__(self, engine: Any, settings: DriftSettings, *, embedder: Embed | None = None,
                 notifier: Notifier | None = None, retrain: Retrain | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.data = DriftData(engine)
        self.store = DriftStore(engine)
        self.embedder = embedder
        self.notifier: Notifier = notifier or LogNotifier()
        self.retrain = retrain
        self.clock = clock
        self.engine = engine

    def windows(self, now: float) -> tuple[Window, Window]:
        split = now - self.settings.recent_s
        return Window(split - self.settings.reference_s, split), Window(split, now)

    def check(self, context: RequestContext | None = None,
              scope: str | None = None) -> list[dict[str, Any]]:
        """Check one tenant (or all of them), one scope or every active one; the reports."""
        now = self.clock()
        tenants = [context.tenant_id] if context is not None else tenant_ids(self.engine)
        out: list[dict[str, Any]] = []
        for tenant in tenants:
            out.extend(self.check_tenant(tenant, now, scope))
        return out

    def check_tenant(self, tenant: str, now: float,
                     scope: str | None = None) -> list[dict[str, Any]]:
        reference, recent = self.windows(now)
        scopes = [check_scope(scope)] if scope else self.data.scopes(tenant, reference.start)
        reports: list[dict[str, Any]] = []
        memo: dict[str, Any] = {}  # a prompt's vector, embedded once for all scopes
        for name in scopes:
            found = self.compare(tenant, name, reference, recent, memo)
            self.store.save_reports(tenant, found, now)
            self._alerts(tenant, name, found, now)
            reports.extend(found)
        if scope is None:  # a whole check: scopes no longer active leave the list
            self.store.keep_only(tenant, scopes)
        return reports

    def compare(self, tenant: str, scope: str, reference: Window, recent: Window,
                memo: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The four reports of one scope (`memo`: vectors of prompts embedded already)."""
        d = self.data
        out = [self._embedding(tenant, scope, reference, recent, {} if memo is None else memo)]
        for signal, read in (("score", d.scores), ("latency", d.latencies)):
            ref, rec = read(tenant, scope, reference), read(tenant, scope, recent)
            out.append(self._distribution(scope, signal, ref, rec, reference, recent))
        ref, rec = d.feedback(tenant, scope, reference), d.feedback(tenant, scope, recent)
        result = (feedback_test(ref.values, rec.values) if self._enough(ref, rec)
                  else TestResult("two-proportion-z", None, None))
        out.append(self._report(scope, "feedback", result, ref, rec, reference, recent,
                                {"reference_rate": _mean(ref.values) if ref else None,
                                 "recent_rate": _mean(rec.values) if rec else None}, _mean))
        return out

    def _enough(self, ref: Sample, rec: Sample) -> bool:
        return min(len(ref), len(rec)) >= self.settings.min_samples

    def _distribution(self, scope: str, signal: str, ref: Sample, rec: Sample,
                      reference: Window, recent: Window) -> dict[str, Any]:
        if not self._enough(ref, rec):
            return self._report(scope, signal, TestResult("ks", None, None), ref, rec,
                                reference, recent, {"psi": None}, _mean)
        shift = psi(ref.values, rec.values)
        effect = {"psi": _round(shift), "reference_mean": _round(_mean(ref.values)),
                  "recent_mean": _round(_mean(rec.values))}
        return self._report(scope, signal, ks_test(ref.values, rec.values), ref, rec,
                            reference, recent, effect, _mean,
                            large_enough=shift is not None and shift >= PSI_MIN)

    def _embedding(self, tenant: str, scope: str, reference: Window, recent: Window,
                   memo: dict[str, Any]) -> dict[str, Any]:
        ref = self.data.prompts(tenant, scope, reference)
        rec = self.data.prompts(tenant, scope, recent)
        if self.embedder is None or not self._enough(ref, rec):
            return self._report(scope, "embedding", TestResult("mmd", None, None), ref, rec,
                                reference, recent, {"centroid_distance": None}, _mean,
                                series=[])
        k = self.settings.embedding_samples
        ref_i, rec_i = _spread(ref.values, k), _spread(rec.values, k)
        texts = [ref.values[i] for i in ref_i] + [rec.values[i] for i in rec_i]
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        if missing:
            memo.update(zip(missing, np.asarray(self.embedder.embed(missing),
                                                dtype=np.float64), strict=True))
        vectors = np.stack([memo[t] for t in texts])
        x, y = vectors[:len(ref_i)], vectors[len(ref_i):]
        result = mmd_test(x, y, permutations=PERMUTATIONS)
        centre = x.mean(axis=0)
        times = [ref.times[i] for i in ref_i] + [rec.times[i] for i in rec_i]
        series = _series(times, list(vectors), reference.start, recent.end,
                         lambda vs: centroid_distance(centre[None, :], np.stack(vs)))
        return self._report(scope, "embedding", result, ref, rec, reference, recent,
                            {"centroid_distance": _round(centroid_distance(x, y)),
                             "embedded": [len(ref_i), len(rec_i)]}, _mean, series=series)

    def _report(self, scope: str, signal: str, result: TestResult, ref: Sample, rec: Sample,
                reference: Window, recent: Window, effect: dict[str, Any],
                reduce: Callable[[list[Any]], float], *, large_enough: bool = True,
                series: list[dict[str, float]] | None = None) -> dict[str, Any]:
        tested = result.p_value is not None
        drifted = bool(tested and result.p_value is not None
                       and result.p_value < self.settings.alpha and large_enough)
        if series is None:
            series = _series(ref.times + rec.times, ref.values + rec.values, reference.start,
                             recent.end, reduce)
        return {"scope": scope, "signal": signal, "test": result.test if tested else "none",
                "statistic": _round(result.statistic), "p_value": _round(result.p_value),
                "drifted": drifted, "alpha": self.settings.alpha,
                "reference": reference.to_dict(len(ref)), "recent": recent.to_dict(len(rec)),
                "effect": effect, "series": series,
                "note": "" if tested else (f"fewer than {self.settings.min_samples} samples "
                                           "in a window" if self.embedder is not None
                                           or signal != "embedding" else "no embedder")}

    def _alerts(self, tenant: str, scope: str, reports: list[dict[str, Any]],
                now: float) -> None:
        """Alert each drifted signal of `scope` not alerted within the recent window; a
        task's new alerts start its retraining once (when drift.retrain is on)."""
        fresh = []
        for report in reports:
            last = self.store.last_alert_at(tenant, scope, report["signal"])
            if report["drifted"] and (last is None or last < now - self.settings.recent_s):
                fresh.append(report)
        if not fresh:
            return
        messages = [self._message(r) for r in fresh]
        retraining = None
        if self.settings.retrain and self.retrain is not None and scope.startswith("task:"):
            try:
                retraining = self.retrain(tenant, scope[5:], "; ".join(messages))
            except Exception as exc:  # the alerts are kept whatever retraining did
                log.exception("drift retraining failed")
                retraining = {"action": "failed", "reason": str(exc)}
        for report, message in zip(fresh, messages, strict=True):
            data = {"report": report, "retraining": retraining,
                    "deliveries": self._notify(tenant, report, message, now)}
            self.store.add_alert(tenant, report, message, now, data)

    def _message(self, report: dict[str, Any]) -> str:
        return (f"{report['signal']} drifted in {report['scope']}: {report['test']} "
                f"statistic {report['statistic']}, p = {report['p_value']} < "
                f"{self.settings.alpha} (reference n = {report['reference']['n']}, recent n "
                f"= {report['recent']['n']})")

    def _notify(self, tenant: str, report: dict[str, Any], message: str,
                now: float) -> list[dict[str, Any]]:
        scope, signal = report["scope"], report["signal"]
        note = Notification("drift", tenant, f"Drift: {signal} in {scope}", message,
                            data={"scope": scope, "signal": signal,
                                  "statistic": report["statistic"],
                                  "p_value": report["p_value"]}, created_at=now)
        try:
            done = self.notifier.notify(note)
            return [{"notifier": done.notifier, "ok": done.ok, "detail": done.detail}]
        except Exception as exc:  # a notifier must not stop the check
            log.exception("drift notification failed")
            return [{"notifier": getattr(self.notifier, "name", "?"), "ok": False,
                     "detail": str(exc)}]
