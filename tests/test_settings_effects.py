"""Every documented setting does what it says: for each row of the README's settings table
(`cerebra.config_doc.specs()`), the setting is set in the environment by its grouped name and
its effect observed — on answers, stored memories, files, the served socket, the log, the
registry — or, where only heavy machinery would show it (llama.cpp, torch), on the object it
configures. The checks live in `tests/effects/` (one module per group or two, registered
with `@effect(NAME)`); a setting without one fails `test_setting_has_its_effect`.

The fast path throughout: FakeModel (CEREBRA_MODEL__FAKE) and FakeEmbedder
(CEREBRA_MEMORY__EMBEDDER=fake), in-process Brains and apps; no llama.cpp in this process.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests.effects
from cerebra.config_doc import specs
from tests.effects.base import EFFECTS, Env, _restore_logging, env, redis_server

for _module in pkgutil.iter_modules(tests.effects.__path__):
    if _module.name != "base":
        importlib.import_module(f"tests.effects.{_module.name}")

__all__ = ["_restore_logging", "env", "redis_server"]  # fixtures the checks use


@pytest.mark.parametrize("name", [s.env for s in specs()])
def test_setting_has_its_effect(env: Env, name: str) -> None:
    assert name in EFFECTS, f"{name} is documented but no test here observes its effect"
    EFFECTS[name](env)


def test_no_effect_check_for_a_setting_that_does_not_exist() -> None:
    assert set(EFFECTS) == {s.env for s in specs()}
