"""Self-improvement benchmark: does the loop make the model better on tasks, end to end,
through the code the server runs?

For each kit (default: every shipped kit; `--kits-dir` adds kits written by someone else):
1. serve: its training prompts go through Brain (raw greedy completions of the embedded
   Gemma, as an application would send them), each a trace in the ledger;
2. feedback: the kit's checker acts as the user — a pass is thumbs up, a failure thumbs down
   with the reference as the correction (the preferred answer), the kit's task as the label;
3. the task's retraining trigger (N new rated examples) fires by itself and starts a cycle
   job on the Brain's runner: curation of the signals into a dataset version, LoRA SFT in a
   child process, the gate against the base on held-out items (McNemar, guard suites = the
   other kits, perplexity of general text), promotion (a hot swap) when it passes;
4. measure: the gate's held-out accuracies of base and candidate, its decision and p-value,
   the guard changes, training time and steps; and, after a promotion, the promoted name
   answering held-out items through Brain (the served model, not the gate's view of it).
First, a control: a deliberately bad dataset — the training rows of the kit with the shortest
prompts, their answers shuffled among the prompts — goes through the same cycle while the
base model still serves every task; the gate must refuse it.

Targets (issue 11): +20 points average held-out accuracy over the base of what serves each
task afterwards (a refused kit counts 0; the candidates' average gain is reported too); no
kit promoted with a guard regression; the shuffled dataset refused; `--quick` under 30
minutes on 2 CPU cores.

Usage: python benchmarks/self_improvement.py [--quick] [--kits a,b] [--kits-dir DIR]
         [--train-items N] [--steps N] [--eval-limit N] [--guard-limit N] [--home DIR]
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer items and steps (< 30 min)")
    p.add_argument("--kits", default="", help="comma-separated kit names (default: all)")
    p.add_argument("--kits-dir", default="", help="a folder of kit folders to install first")
    p.add_argument("--train-items", type=int, default=None, help="training prompts served")
    p.add_argument("--steps", type=int, default=None, help="training steps per cycle")
    p.add_argument("--batch", type=int, default=None, help="training batch size")
    p.add_argument("--eval-limit", type=int, default=None, help="held-out items per kit")
    p.add_argument("--guard-limit", type=int, default=None, help="held-out items per guard")
    p.add_argument("--served-check", type=int, default=None,
                   help="held-out items answered through the promoted name afterwards")
    p.add_argument("--no-bad", action="store_true", help="skip the shuffled-labels run")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--home", default="", help="CEREBRA_HOME (default: a fresh temp folder)")
    return p.parse_args()


def sizes(args: argparse.Namespace) -> dict[str, int]:
    quick = {"train_items": 120, "steps": 16, "batch": 4, "eval_limit": 100,
             "guard_limit": 25, "served_check": 25}
    full = {"train_items": 400, "steps": 120, "batch": 8, "eval_limit": 0,
            "guard_limit": 100, "served_check": 100}
    out = dict(quick if args.quick else full)
    for key in out:
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    return out


def serve_and_rate(brain: Any, kit: Any, n: int) -> dict[str, Any]:
    """Serve `n` training prompts through Brain; the checker rates each as the user would."""
    from cerebra.context import RequestContext

    context = RequestContext()
    stop = tuple(s for s in kit.spec.stop if s)
    passed, started = 0, time.perf_counter()
    for item in kit.train[:n]:
        answer = brain.ask(kit.prompt(item), raw=True, memory=False,
                           max_tokens=kit.spec.max_tokens, temperature=0.0, stop=stop,
                           endpoint="bench", context=context)
        ok = kit.check(item, answer.answer).passed
        passed += ok
        correction = None if ok or item.reference is None else kit.completion(item)
        brain.feedback(answer.trace_id, context=context, thumbs=ok, correction=correction,
                       label=kit.name)
    brain.ledger.flush()
    served = min(n, len(kit.train))
    return {"served": served, "base_train_accuracy": passed / served if served else 0.0,
            "seconds": round(time.perf_counter() - started, 1)}


def served_accuracy(brain: Any, kit: Any, model: str, limit: int) -> float | None:
    """Held-out accuracy of the served `model` answering through Brain."""
    from cerebra.kits.run import brain_answerer, evaluate

    if limit <= 0:
        return None
    run = evaluate(kit, brain_answerer(brain, kit, model=model), limit=limit, model=model)
    return run.accuracy


def cycle_figures(result: dict[str, Any], job: Any) -> dict[str, Any]:
    gate = result.get("gate") or {}
    training = result.get("training") or {}
    guards = gate.get("guards") or {}
    return {
        "decision": gate.get("decision"), "outcome": result.get("outcome"),
        "reasons": gate.get("reasons"),
        "base_accuracy": _pct(gate.get("baseline")),
        "candidate_accuracy": _pct(gate.get("candidate")),
        "gain_points": _round(gate.get("gain")), "p_value": gate.get("p_value"),
        "held_out_n": gate.get("n"),
        "guard_change_points": {k: _round(v) for k, v in guards.items()},
        "worst_guard_change": _round(min(guards.values())) if guards else None,
        "ppl": gate.get("ppl"),
        "train_steps": training.get("steps"), "train_seconds": _round(training.get("seconds")),
        "final_loss": _round(training.get("final_loss"), 4),
        "train_rows": (result.get("dataset") or {}).get("rows"),
        "dataset": {k: (result.get("dataset") or {}).get(k)
                    for k in ("name", "version", "content_hash")},
        "gate_report_id": result.get("gate_report_id"), "version_id": result.get("version_id"),
        "cycle_seconds": _round((result.get("timings") or {}).get("total_s")),
        "job": {"id": job.id, "state": job.state},
    }


def _pct(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _round(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def shuffled_dataset(brain: Any, kit: Any, n: int, seed: int = 0) -> str:
    """The kit's first `n` training rows with their answers shuffled among the prompts."""
    from cerebra.context import RequestContext
    from cerebra.improve.datasets import DatasetStore
    from cerebra.improve.rows import SftRow

    items = [i for i in kit.train[:n] if i.reference is not None]
    answers = [kit.completion(i) for i in items]
    rng = random.Random(seed)
    for _ in range(10):  # a derangement in practice: few rows keep their own answer
        rng.shuffle(answers)
        if sum(a == kit.completion(i) for a, i in zip(answers, items, strict=True)) \
                <= len(items) // 20:
            break
    rows = [SftRow(kit.prompt(i), a, source="bench:shuffled", task=kit.name)
            for i, a in zip(items, answers, strict=True)]
    name = f"{kit.name}-shuffled"
    DatasetStore(brain.engine).create_version(RequestContext(), name, "sft", rows,
                                              task=kit.name, report={"shuffled": True})
    return name


def _mean_prompt_chars(kit: Any) -> float:
    items = kit.train[:50]
    return sum(len(kit.prompt(i)) for i in items) / max(1, len(items))


def save_workflow(brain: Any, context: Any, kit: Any, overrides: dict[str, Any]) -> str:
    """The operator's workflow for the task: the CPU template, the kit's defaults, the run's
    sizes; its name."""
    from cerebra.improve.training_runs import WorkflowStore

    workflow = f"bench-{kit.name}"
    store = WorkflowStore(brain.engine)
    text = json.dumps({"extends": "sft-lora-cpu", "name": workflow, **kit.spec.workflow,
                       **overrides})
    store.save(context, store.parse(context, yaml=text), text)
    return workflow


def shuffled_cycle(brain: Any, improvement: Any, context: Any, kit: Any, size: dict[str, int],
                   overrides: dict[str, Any], eval_limit: int | None,
                   guard_limit: int) -> dict[str, Any]:
    """One cycle on the kit's training rows with their answers shuffled; its figures."""
    from cerebra.improve.loop import CycleOptions

    workflow = save_workflow(brain, context, kit, overrides)
    dataset = shuffled_dataset(brain, kit, size["train_items"])
    job_id = improvement.start_cycle(context, kit.name, CycleOptions(
        workflow=workflow, dataset=dataset, eval_limit=eval_limit,
        guard_limit=guard_limit, reason="benchmark: shuffled labels"))
    job = improvement.runner.join(job_id)
    return ({"kit": kit.name, **cycle_figures(job.result, job)} if job.state == "succeeded"
            else {"kit": kit.name, "error": job.error})


def main() -> None:
    args = parse_args()
    size = sizes(args)
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="cerebra-si-"))
    os.environ["CEREBRA_HOME"] = str(home)
    os.environ.setdefault("CEREBRA_IMPROVE__TRIGGER_CHECK_S", "0")  # checked by hand below
    os.environ.setdefault("CEREBRA_HEALTH__INTERVAL_S", "0")
    os.environ.setdefault("CEREBRA_MEMORY__PRUNE_INTERVAL_S", "0")
    started = time.perf_counter()

    from cerebra.brain import Brain
    from cerebra.config import get_settings
    from cerebra.context import RequestContext
    from cerebra.improve.setup import attach_improvement
    from cerebra.improve.triggers import TriggerPolicy
    from cerebra.kits.registry import get_kit, install, known_kits

    settings = get_settings()
    if args.kits_dir:
        for folder in sorted(Path(args.kits_dir).iterdir()):
            if (folder / "kit.yaml").is_file():
                install(folder)
    names = [n for n in args.kits.split(",") if n] or [k.name for k, _ in known_kits()]
    kits = [get_kit(n) for n in names]
    brain = Brain.from_settings(settings)
    improvement = attach_improvement(brain, settings, cycle_defaults={
        "guard_limit": size["guard_limit"], "eval_limit": size["eval_limit"] or None})
    context = RequestContext()
    overrides: dict[str, Any] = {"max_steps": size["steps"], "micro_batch_size": size["batch"],
                                 "device": args.device}
    guard_limit = size["guard_limit"]
    eval_limit = size["eval_limit"] or None
    out: dict[str, Any] = {"benchmark": "self_improvement", "quick": args.quick,
                           "sizes": size, "kits": {}, "home": str(home)}
    try:
        if not args.no_bad and kits:
            # the control first, while the base model serves every task: an adapter trained
            # on the same prompts with their answers shuffled, against the same baseline a
            # real cycle meets; the kit with the shortest prompts (the cheapest to train)
            kit = min(kits, key=lambda k: (_mean_prompt_chars(k), k.name))
            out["shuffled_labels"] = shuffled_cycle(brain, improvement, context, kit, size,
                                                    overrides, eval_limit, guard_limit)
            print(json.dumps({"shuffled_labels": out["shuffled_labels"]}), file=sys.stderr,
                  flush=True)
        for kit in kits:
            # the operator's set-up first: a workflow for the task and its trigger (signals
            # from before a policy exists are not new to it), then the traffic
            workflow = save_workflow(brain, context, kit, overrides)
            n = min(size["train_items"], len(kit.train))
            improvement.triggers.store.set(context, TriggerPolicy(
                task=kit.name, workflow=workflow, min_new_examples=n))
            served = serve_and_rate(brain, kit, n)
            events = improvement.triggers.check(context)
            fired = [e for e in events if e.task == kit.name and e.action == "fired"]
            if not fired:
                out["kits"][kit.name] = {"serve": served, "error": "the trigger did not fire",
                                         "events": [e.to_dict() for e in events]}
                continue
            assert fired[0].job_id is not None  # a fired trigger names its job
            job = improvement.runner.join(fired[0].job_id)
            entry: dict[str, Any] = {"serve": served, "trigger": fired[0].reason}
            if job.state != "succeeded":
                entry["error"] = job.error
                out["kits"][kit.name] = entry
                continue
            entry.update(cycle_figures(job.result, job))
            if job.result.get("outcome") == "promoted":
                name = job.result["served_name"]
                entry["served_name"] = name
                entry["served_accuracy"] = served_accuracy(brain, kit, name,
                                                           size["served_check"])
                entry["served_base_accuracy"] = served_accuracy(
                    brain, kit, settings.model.name, size["served_check"])
            out["kits"][kit.name] = entry
            print(json.dumps({kit.name: entry}), file=sys.stderr, flush=True)
    finally:
        improvement.close()
        brain.close()
    done = [v for v in out["kits"].values() if v.get("gain_points") is not None]
    gains = [v["gain_points"] for v in done]
    promoted = [v for v in done if v.get("outcome") == "promoted"]
    out["summary"] = {
        "kits": len(kits), "measured": len(done),
        "average_gain_points": round(sum(gains) / len(gains), 2) if gains else None,
        "average_base_accuracy": _avg([v["base_accuracy"] for v in done]),
        "average_candidate_accuracy": _avg([v["candidate_accuracy"] for v in done]),
        # what serves each task afterwards: the promoted adapter's gain, 0 where refused
        "average_served_gain_points": round(sum(
            v["gain_points"] if v.get("outcome") == "promoted" else 0.0 for v in done)
            / len(done), 2) if done else None,
        "promoted": len(promoted),
        "promoted_with_guard_regression": sum(
            1 for v in promoted if (v.get("worst_guard_change") or 0.0) < -2.0),
        "shuffled_refused": (out.get("shuffled_labels") or {}).get("decision") == "refuse",
        "seconds": round(time.perf_counter() - started, 1),
    }
    s = out["summary"]
    s["targets"] = {"served_gain_ge_20_points": (s["average_served_gain_points"] or 0) >= 20,
                    "no_guard_regression_promoted": s["promoted_with_guard_regression"] == 0,
                    "shuffled_refused": s["shuffled_refused"],
                    "quick_under_30_min": (s["seconds"] < 1800) if args.quick else None}
    print(json.dumps(out, indent=2, default=str))


def _avg(values: list[Any]) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else None


if __name__ == "__main__":
    main()
