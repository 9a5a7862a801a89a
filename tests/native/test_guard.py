"""The pytest process refuses to load a llama.cpp model (tests/native/guard.py): native
inference belongs in child processes, where a crash fails one test, not the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.native.guard import EngineInProcess


@pytest.mark.slow
def test_the_pytest_process_refuses_to_load_a_model(gguf_path: Path) -> None:
    from cerebra.models.llamacpp import LlamaCppBackend

    with pytest.raises(EngineInProcess, match="llama_backend fixture"):
        LlamaCppBackend(gguf_path, n_ctx=256)
