"""TrainConfig: the hyper-parameters of one LoRA training run (SFT or DPO), validated.

A bad value is refused with InvalidInput naming the field (`TrainConfig.parse(dict)`), so a
workflow file or an API body reports which key is wrong. `max_steps` wins over `epochs`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cerebra.errors import InvalidInput

GEMMA3_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_LR = {"sft": 2e-4, "dpo": 2e-5}


class TrainConfig(BaseModel):
    """One run's settings; learning_rate None takes the stage's default (DEFAULT_LR)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: Literal["sft", "dpo"] = "sft"
    lora_r: int = Field(16, ge=1, le=256, description="LoRA rank")
    lora_alpha: float = Field(32.0, gt=0, le=4096, description="LoRA alpha (scale alpha/r)")
    lora_dropout: float = Field(0.05, ge=0.0, le=0.5)
    target_modules: tuple[str, ...] = Field(GEMMA3_TARGETS, min_length=1)
    learning_rate: float | None = Field(None, gt=0, le=1.0)
    epochs: float = Field(1.0, gt=0, le=1000)
    max_steps: int | None = Field(None, ge=1, le=1_000_000, description="wins over epochs")
    batch_size: int = Field(8, ge=1, le=1024)
    gradient_accumulation: int = Field(1, ge=1, le=1024)
    max_seq_len: int = Field(256, ge=8, le=32768)
    seed: int = Field(0, ge=0)
    dpo_beta: float = Field(0.1, gt=0, le=10.0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    save_steps: int = Field(50, ge=1, description="checkpoint every N optimizer steps")
    save_total_limit: int = Field(3, ge=1, le=100, description="checkpoints kept")
    logging_steps: int = Field(1, ge=1)
    gradient_checkpointing: bool = Field(
        False, description="recompute activations in backward: less memory, ~30% more compute")

    @model_validator(mode="after")
    def _targets_named(self) -> TrainConfig:
        if any(not t or not t.replace("_", "").isalnum() for t in self.target_modules):
            raise ValueError("target_modules must be module names such as q_proj")
        return self

    @property
    def lr(self) -> float:
        """The learning rate used: the given one, else the stage's default."""
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LR[self.stage]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> TrainConfig:
        """Validate a mapping; InvalidInput names the first bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or None
            raise InvalidInput(f"train config: {field or 'config'}: {err['msg']}",
                               field=field) from exc
