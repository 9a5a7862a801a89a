"""Cost recommendations from the rollups: a model that serves a real share of the requests at
several times another model's cost per request, with feedback no better (Welch's t-test on
the recorded feedback, `interactions.quality`), is worth moving traffic off — "model X served
40 % of requests at 8× the cost of Y with equal feedback". Each comes with its numbers.
"""

from __future__ import annotations

import math
from typing import Any

from scipy import stats

MIN_SHARE = 0.10  # of the requests: smaller models are not worth a recommendation
MIN_FEEDBACK = 10  # ratings per model before its feedback counts as known
ALPHA = 0.05  # feedback differs significantly below this p-value


def _feedback(m: dict[str, Any]) -> tuple[float, float, int]:
    """(mean, sample variance, n) of a model's feedback."""
    n = int(m["feedback_n"])
    mean = m["feedback_sum"] / n
    var = max(0.0, (m["feedback_sq"] - n * mean * mean) / (n - 1)) if n > 1 else 0.0
    return mean, var, n


def equal_feedback(a: dict[str, Any], b: dict[str, Any]) -> tuple[bool, float]:
    """Whether `a`'s feedback is no better than `b`'s (not significantly higher), and the
    p-value of Welch's test of a difference."""
    ma, va, na = _feedback(a)
    mb, vb, nb = _feedback(b)
    se = math.sqrt(va / na + vb / nb)
    if se == 0:
        return ma <= mb, 1.0 if ma == mb else 0.0
    t = (ma - mb) / se
    df = (va / na + vb / nb) ** 2 / (
        (va / na) ** 2 / max(na - 1, 1) + (vb / nb) ** 2 / max(nb - 1, 1))
    p = float(2 * stats.t.sf(abs(t), df))
    return ma <= mb or p >= ALPHA, p


def model_recommendations(models: list[dict[str, Any]], min_ratio: float,
                          days: int) -> list[dict[str, Any]]:
    """Recommendations for the models of `CostReader.model_stats` over `days` days."""
    total = sum(m["requests"] for m in models)
    rated = [m for m in models if m["requests"] and m["feedback_n"] >= MIN_FEEDBACK]
    out: list[dict[str, Any]] = []
    for dear in sorted(rated, key=lambda m: -m["cost"]):
        share = dear["requests"] / total
        dear_cpr = dear["cost"] / dear["requests"]
        if share < MIN_SHARE or dear_cpr <= 0:
            continue
        options = []
        for cheap in rated:
            cheap_cpr = cheap["cost"] / cheap["requests"]
            if cheap is dear or cheap_cpr * min_ratio > dear_cpr:
                continue
            same, p = equal_feedback(dear, cheap)
            if same:
                options.append((cheap_cpr, cheap, p))
        if not options:
            continue
        cheap_cpr, cheap, p = min(options, key=lambda o: o[0])
        ratio = dear_cpr / cheap_cpr if cheap_cpr > 0 else math.inf
        saving = dear["requests"] * (dear_cpr - cheap_cpr)
        times = "∞" if math.isinf(ratio) else f"{ratio:.1f}×"
        alike = "equal" if p >= ALPHA else "worse"
        text = (f"model {dear['model']} served {share * 100:.0f} % of requests at {times} "
                f"the cost per request of {cheap['model']} with {alike} feedback "
                f"({_feedback(dear)[0]:.2f} vs {_feedback(cheap)[0]:.2f}); sending them to "
                f"{cheap['model']} would have saved ${saving:.2f} in {days} days")
        out.append({"text": text, "data": {
            "kind": "cheaper_model", "model": dear["model"], "instead": cheap["model"],
            "share": share, "cost_ratio": None if math.isinf(ratio) else ratio,
            "feedback": _feedback(dear)[0], "feedback_instead": _feedback(cheap)[0],
            "p_value": p, "saving": saving, "days": days}})
    return out


def budget_recommendation(forecast: dict[str, Any],
                          monthly_limit: float | None) -> list[dict[str, Any]]:
    """A warning when the month's forecast passes the tenant's monthly budget."""
    if not monthly_limit or forecast["forecast"] <= monthly_limit:
        return []
    return [{"text": (f"at this pace the tenant will spend ${forecast['forecast']:.2f} in "
                      f"{forecast['month']} (between ${forecast['low']:.2f} and "
                      f"${forecast['high']:.2f}), over its monthly budget of "
                      f"${monthly_limit:.2f}"),
             "data": {"kind": "over_budget", "forecast": forecast["forecast"],
                      "limit": monthly_limit, "month": forecast["month"]}}]
