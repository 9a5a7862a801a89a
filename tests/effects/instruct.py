"""Effect checks of the instruct-model setting (model.instruct: SmolLM2 beside Gemma).

llama.cpp is recorded, not loaded (tests.effects.core.Recorder), as the other model checks do."""

from __future__ import annotations

from typing import Any

from cerebra.config import get_settings
from cerebra.models.base import Capabilities
from cerebra.models.catalog import Catalog
from cerebra.models.instruct import INSTRUCT_NAME, add_instruct_model
from cerebra.models.registry import ModelRegistry
from cerebra.models.weights import SMOLLM2
from cerebra.testing import FakeModel
from tests.effects.base import Env, effect
from tests.effects.core import Recorder


class Served(Recorder):
    """A recorded llama.cpp backend that a registry can hold."""

    capabilities = Capabilities()


def instruct_served(env: Env, **values: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The models a catalog serves after add_instruct_model, and the llama.cpp builds."""
    env.monkeypatch.setattr("cerebra.models.llamacpp.LlamaCppBackend", Served)
    Recorder.built = []
    registry = ModelRegistry()
    registry.add(FakeModel(name="gemma-3-270m"), default=True)
    add_instruct_model(env.set(CEREBRA_MODEL__FAKE="false", **values), Catalog(registry))
    return registry.names(), Recorder.built


@effect("CEREBRA_MODEL__INSTRUCT")
def _instruct(env: Env) -> None:
    names, built = instruct_served(env, CEREBRA_MODEL__INSTRUCT="true")
    assert names == ["gemma-3-270m", INSTRUCT_NAME]
    assert built[-1]["path"] == SMOLLM2.locate() and built[-1]["chat_format"] == "gguf"
    assert instruct_served(env, CEREBRA_MODEL__INSTRUCT="false") == (["gemma-3-270m"], [])
    assert get_settings().model.instruct is False
