"""Prompts: rendering persona + memories (renderer), PromptManager (sandboxed templates,
history, memory context, pipelines), stored versions with labels, A/B tests, the rewriter.

`from cerebra.prompts import PromptManager` works; the modules load on first use, so the
Brain's import of the renderer does not pull in the template store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cerebra.prompts.ab import ABTests
    from cerebra.prompts.manager import PromptManager
    from cerebra.prompts.rewriter import PromptRewriter
    from cerebra.prompts.template_store import TemplateStore

__all__ = ["ABTests", "PromptManager", "PromptRewriter", "TemplateStore"]

_HOMES = {"ABTests": "ab", "PromptManager": "manager", "PromptRewriter": "rewriter",
          "TemplateStore": "template_store"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"cerebra.prompts.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'cerebra.prompts' has no attribute {name!r}")
