"""The workflow schema: `Workflow` (flat Axolotl / LLaMA-Factory style keys, each bounded)
with its eval suite and promotion rule, the error it raises, and the shipped templates.
Reading YAML is cerebra.improve.workflow_loader; `cerebra.improve.workflow` is the API."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from cerebra.errors import InvalidInput
from cerebra.improve.rule import PromotionRule

if TYPE_CHECKING:
    from cerebra.training.config import TrainConfig

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
DATASET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}(@[0-9]{1,9})?$"
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,199}$"
MODULE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$"
TEMPLATES_DIR = Path(__file__).with_name("workflow_templates")
MAX_YAML_CHARS = 64_000
ENV_PREFIX = "CEREBRA_WORKFLOW_"
# other spellings of a key (Axolotl, LLaMA-Factory, the contracts) → the schema's name
SYNONYMS = {"epochs": "num_epochs", "num_train_epochs": "num_epochs",
            "batch_size": "micro_batch_size", "per_device_train_batch_size": "micro_batch_size",
            "gradient_accumulation": "gradient_accumulation_steps",
            "max_seq_len": "sequence_len", "cutoff_len": "sequence_len",
            "target_modules": "lora_target_modules", "lora_target": "lora_target_modules",
            "pref_beta": "dpo_beta"}

KitName = Annotated[str, Field(pattern=NAME_PATTERN, description="an installed kit's name")]


class EvalSuite(BaseModel):
    """What the gate measures: the task kit's held-out items and the guard kits."""

    model_config = ConfigDict(extra="forbid", strict=True)

    task: KitName | None = Field(None, description="the task kit (default: the workflow's task)")
    guards: list[KitName] = Field(default_factory=list, max_length=32,
                                  description="kits that must not regress")
    limit: int | None = Field(None, ge=1, le=100_000, description="held-out items per kit")
    perplexity: bool = Field(True, description="also compare perplexity on general text")


def _qlora_available() -> bool:
    if importlib.util.find_spec("bitsandbytes") is None:
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _rename_synonyms(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for alias, name in SYNONYMS.items():
        if alias in out:
            if name in out:
                raise PydanticCustomError("duplicate_key", "{alias} and {name} are the same "
                                          "key: give one", {"alias": alias, "name": name})
            out[name] = out.pop(alias)
    return out


class Workflow(BaseModel):
    """One training recipe. Every field is bounded; impossible values are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(pattern=NAME_PATTERN, description="the workflow's (and adapter's) name")
    base_model: str = Field("gemma-3-270m", pattern=MODEL_PATTERN,
                            description="a catalog model name")
    adapter: Literal["lora", "qlora"] = Field(
        "lora", description="qlora only where bitsandbytes is importable and CUDA present")
    stage: Literal["sft", "dpo"] = "sft"
    lora_r: int = Field(16, ge=1, le=256, description="LoRA rank")
    lora_alpha: float = Field(32.0, gt=0, le=4096, description="LoRA alpha (scale alpha/r)")
    lora_dropout: float = Field(0.05, ge=0, le=0.5)
    lora_target_modules: list[Annotated[str, Field(pattern=MODULE_PATTERN)]] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                 "up_proj", "down_proj"], min_length=1, max_length=64)
    learning_rate: float | None = Field(None, gt=0, le=1,
                                        description="default: 2e-4 for sft, 2e-5 for dpo")
    num_epochs: float = Field(1.0, ge=0, le=1000, description="0: train by max_steps")
    max_steps: int = Field(0, ge=0, le=1_000_000, description="0: train by num_epochs; "
                           "else it wins over num_epochs")
    micro_batch_size: int = Field(8, ge=1, le=1024)
    gradient_accumulation_steps: int = Field(1, ge=1, le=1024)
    sequence_len: int = Field(256, ge=8, le=32768, description="tokens per example")
    dpo_beta: float = Field(0.1, gt=0, le=10)
    save_steps: int = Field(50, ge=1, le=1_000_000, description="checkpoint every N steps")
    save_total_limit: int = Field(3, ge=1, le=100, description="checkpoints kept")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    datasets: list[Annotated[str, Field(pattern=DATASET_PATTERN)]] = Field(
        default_factory=list, max_length=32, description="dataset names, optionally name@version")
    task: KitName | None = Field(None, description="the kit this workflow improves")
    eval: EvalSuite = Field(default_factory=lambda: EvalSuite.model_validate({}))
    promotion: PromotionRule = Field(default_factory=lambda: PromotionRule.model_validate({}))

    @model_validator(mode="before")
    @classmethod
    def _synonyms(cls, data: Any) -> Any:
        return _rename_synonyms(data)

    @field_validator("adapter")
    @classmethod
    def _adapter_runs_here(cls, value: str) -> str:
        if value == "qlora" and not _qlora_available():
            raise PydanticCustomError(
                "qlora_unavailable", "qlora needs bitsandbytes and a CUDA GPU, and this "
                "machine lacks one of them: use lora")
        return value

    @field_validator("max_steps")
    @classmethod
    def _some_training(cls, value: int, info: ValidationInfo) -> int:
        if value == 0 and info.data.get("num_epochs") == 0:
            raise PydanticCustomError("no_training", "num_epochs and max_steps are both 0: "
                                      "set one of them above 0")
        return value

    @property
    def eval_task(self) -> str | None:
        """The kit the gate measures the task on."""
        return self.eval.task or self.task

    def dataset_refs(self) -> list[tuple[str, int | None]]:
        """The datasets as (name, version or None for the newest)."""
        refs: list[tuple[str, int | None]] = []
        for item in self.datasets:
            name, _, version = item.partition("@")
            refs.append((name, int(version) if version else None))
        return refs

    def train_config(self) -> TrainConfig:
        """The training part (cerebra.training.config.TrainConfig) of this workflow."""
        from cerebra.training.config import TrainConfig

        return TrainConfig.parse({
            "stage": self.stage, "lora_r": self.lora_r, "lora_alpha": self.lora_alpha,
            "lora_dropout": self.lora_dropout,
            "target_modules": tuple(self.lora_target_modules),
            "learning_rate": self.learning_rate,
            "epochs": self.num_epochs if self.num_epochs > 0 else 1.0,
            "max_steps": self.max_steps or None, "batch_size": self.micro_batch_size,
            "gradient_accumulation": self.gradient_accumulation_steps,
            "max_seq_len": self.sequence_len, "seed": self.seed, "dpo_beta": self.dpo_beta,
            "device": self.device, "save_steps": self.save_steps,
            "save_total_limit": self.save_total_limit,
        })

    def to_yaml(self) -> str:
        import yaml

        return str(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))


class WorkflowError(InvalidInput):
    """A workflow that does not validate: the message reads `line N: key: problem`."""

    code = "invalid_workflow"


def templates() -> dict[str, str]:
    """The shipped templates: name → the description on their first comment line."""
    found: dict[str, str] = {}
    for path in sorted(TEMPLATES_DIR.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[:1]
        found[path.stem] = first[0].lstrip("# ").strip() if first and first[0].startswith(
            "#") else ""
    return found


def template_path(name: str) -> Path:
    if not re.match(NAME_PATTERN, name) or name not in templates():
        raise WorkflowError(f"no workflow template {name!r}; templates: "
                            f"{', '.join(templates())}", field="extends")
    return TEMPLATES_DIR / f"{name}.yaml"
