"""LoRA training of the embedded Gemma with TRL: SFT (prompt → completion) and DPO
(prompt, chosen, rejected), on CPU (float32) or CUDA, with checkpoints, resume, progress,
a clean stop, the curve, and the adapter converted to a llama.cpp GGUF.

How text is formed (the serving side must match it): the model is a base model, not an
instruct one, so there is no chat template. A training sequence is the tokenizer's
encoding of `prompt + completion + eos_token` with special tokens (so it starts with
`<bos>`): `<bos>{prompt}{completion}<eos>`. The loss covers only the completion's tokens
and the EOS (TRL's completion_only_loss). Serving therefore sends `prompt` as the raw
completion prompt (llama.cpp adds `<bos>` itself) and reads the continuation until EOS.
Put any separator (a space, a newline) at the end of the prompt or the start of the
completion consistently with how you will prompt. DPO forms `<bos>{prompt}` and
`{chosen}<eos>` / `{rejected}<eos>` the same way; its reference model is the base with the
adapter disabled.

Layout of `out_dir`: adapter_config.json, adapter_model.safetensors (PEFT), adapter.gguf
(llama.cpp), curve.json ([{step, loss, lr, epoch}]), checkpoints/checkpoint-N/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cerebra.training.config import TrainConfig
from cerebra.training.errors import TrainingCancelled, TrainingError

Progress = Callable[[int, int, float | None, float | None], None]
ShouldStop = Callable[[], bool]
FIELDS = {"sft": ("prompt", "completion"), "dpo": ("prompt", "chosen", "rejected")}


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path
    gguf_path: Path
    steps: int
    curve: list[dict[str, float]]
    seconds: float
    device: str
    resumed_from: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"adapter_dir": str(self.adapter_dir), "gguf_path": str(self.gguf_path),
                "steps": self.steps, "curve": self.curve, "seconds": self.seconds,
                "device": self.device, "resumed_from": self.resumed_from, "extra": self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        return cls(adapter_dir=Path(data["adapter_dir"]), gguf_path=Path(data["gguf_path"]),
                   steps=int(data["steps"]), curve=list(data["curve"]),
                   seconds=float(data["seconds"]), device=str(data["device"]),
                   resumed_from=data.get("resumed_from"), extra=dict(data.get("extra") or {}))


def read_rows(rows_path: Path, stage: str) -> list[dict[str, str]]:
    """The JSONL rows, each with exactly the stage's string fields (TrainingError names the
    line otherwise)."""
    wanted = FIELDS[stage]
    rows: list[dict[str, str]] = []
    try:
        lines = Path(rows_path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrainingError(f"cannot read rows {rows_path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise TrainingError(f"{rows_path}:{number}: not JSON: {exc}") from exc
        if not isinstance(row, dict) or any(not isinstance(row.get(k), str) for k in wanted):
            raise TrainingError(f"{rows_path}:{number}: a {stage} row needs string fields "
                                f"{', '.join(wanted)}")
        rows.append({k: row[k] for k in wanted})
    if not rows:
        raise TrainingError(f"{rows_path} holds no rows")
    return rows


def last_checkpoint(out_dir: Path) -> Path | None:
    """The newest checkpoints/checkpoint-N folder of a run, if any."""
    folder = Path(out_dir) / "checkpoints"
    found = [(int(p.name.split("-")[-1]), p) for p in folder.glob("checkpoint-*")
             if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found)[1] if found else None


def pick_device(wanted: str) -> str:
    import torch

    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise TrainingError("device 'cuda' asked for, but no CUDA device is available")
    return wanted


def _callback(progress: Progress | None, should_stop: ShouldStop | None,
              curve: list[dict[str, float]], run: dict[str, Any]) -> Any:
    from transformers import TrainerCallback

    class _Report(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            run["start_step"], run["t0"] = state.global_step, time.monotonic()

        def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            logs = kwargs.get("logs") or {}
            if "loss" in logs:
                run["loss"] = float(logs["loss"])
                curve.append({"step": state.global_step, "loss": float(logs["loss"]),
                              "lr": float(logs.get("learning_rate", 0.0)),
                              "epoch": float(logs.get("epoch") or 0.0)})

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            done = state.global_step - run["start_step"]
            eta = None
            if done > 0:
                per_step = (time.monotonic() - run["t0"]) / done
                eta = per_step * max(state.max_steps - state.global_step, 0)
            if progress is not None:
                progress(state.global_step, state.max_steps, run.get("loss"), eta)
            if should_stop is not None and should_stop():
                run["stopped_at"] = state.global_step
                control.should_training_stop = True
                control.should_save = True
            return control

    return _Report()


def _trainer(config: TrainConfig, model: Any, tokenizer: Any, rows: list[dict[str, str]],
             out_dir: Path, device: str, callback: Any) -> Any:
    from datasets import Dataset
    from peft import LoraConfig

    common: dict[str, Any] = dict(
        output_dir=str(out_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.lr, num_train_epochs=config.epochs,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        logging_steps=config.logging_steps, save_steps=config.save_steps,
        save_total_limit=config.save_total_limit, seed=config.seed, data_seed=config.seed,
        report_to=[], disable_tqdm=True, use_cpu=device == "cpu", bf16=False, fp16=False,
        dataloader_num_workers=0, max_length=config.max_seq_len, dataset_num_proc=None,
        gradient_checkpointing=config.gradient_checkpointing,
    )
    alpha: Any = config.lora_alpha  # PEFT types it int; a float scales as well
    peft_config = LoraConfig(r=config.lora_r, lora_alpha=alpha,
                             lora_dropout=config.lora_dropout, bias="none",
                             target_modules=list(config.target_modules), task_type="CAUSAL_LM")
    dataset = Dataset.from_list(rows)
    if config.stage == "sft":
        from trl import SFTConfig, SFTTrainer

        sft_args = SFTConfig(**common, completion_only_loss=True, packing=False)
        return SFTTrainer(model=model, args=sft_args, train_dataset=dataset,
                          processing_class=tokenizer, peft_config=peft_config,
                          callbacks=[callback])
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**common, beta=config.dpo_beta)
    return DPOTrainer(model=model, ref_model=None, args=args, train_dataset=dataset,
                      processing_class=tokenizer, peft_config=peft_config,
                      callbacks=[callback])


def train(config: TrainConfig, rows_path: Path, out_dir: Path, *,
          base_gguf: Path | None = None, base_dir: Path | None = None,
          progress: Progress | None = None, should_stop: ShouldStop | None = None,
          resume: bool = True) -> TrainResult:
    """Train a LoRA adapter on `rows_path` into `out_dir` (see the module docstring).

    `base_dir` is an HF folder to train from (default: `hf_base(base_gguf)`).
    `progress(step, total, loss, eta_s)` is called after every optimizer step; `loss` is the
    latest logged one (the step's own loss is logged just after, so it lags a step; None
    before the first log) and eta_s extrapolates this run's time per step. Raises
    TrainingCancelled (with the checkpoint it saved) when `should_stop()` turned true."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    from cerebra.training.base_weights import hf_base
    from cerebra.training.gguf_lora import peft_to_gguf

    started = time.monotonic()
    out_dir = Path(out_dir)
    rows = read_rows(rows_path, config.stage)
    device = pick_device(config.device)
    base = Path(base_dir) if base_dir is not None else hf_base(base_gguf)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32,
                                                 local_files_only=True,
                                                 attn_implementation="eager")
    curve: list[dict[str, float]] = []
    state: dict[str, Any] = {}
    trainer = _trainer(config, model, tokenizer, rows, out_dir, device,
                       _callback(progress, should_stop, curve, state))
    checkpoint = last_checkpoint(out_dir) if resume else None
    resumed_from = int(checkpoint.name.split("-")[-1]) if checkpoint is not None else None
    if checkpoint is not None:  # the earlier part of the curve, as that run logged it
        curve.extend(_logged_curve(checkpoint))
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except (RuntimeError, ValueError) as exc:
        raise TrainingError(f"training failed: {exc}",
                            last_checkpoint=last_checkpoint(out_dir)) from exc
    if "stopped_at" in state:
        saved = last_checkpoint(out_dir)
        raise TrainingCancelled(f"training stopped at step {state['stopped_at']}; "
                                f"checkpoint {saved}", last_checkpoint=saved)
    trainer.model.save_pretrained(str(out_dir))
    (out_dir / "curve.json").write_text(json.dumps(curve, indent=1))
    gguf_path = peft_to_gguf(out_dir, out_dir / "adapter.gguf")
    return TrainResult(adapter_dir=out_dir, gguf_path=gguf_path,
                       steps=int(trainer.state.global_step), curve=curve,
                       seconds=time.monotonic() - started, device=device,
                       resumed_from=resumed_from,
                       extra={"eos_token": tokenizer.eos_token, "stage": config.stage})


def _logged_curve(checkpoint: Path) -> list[dict[str, float]]:
    try:
        history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    except (OSError, ValueError, KeyError):
        return []
    return [{"step": h["step"], "loss": float(h["loss"]),
             "lr": float(h.get("learning_rate", 0.0)), "epoch": float(h.get("epoch") or 0.0)}
            for h in history if "loss" in h]
