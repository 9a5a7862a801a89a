"""The kit registry: built-in and installed kits, installing from a folder or an entry point
(validated first, copied atomically, nothing half-installed), tenants' own kits, and
eval_texts for decontamination."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cerebra.errors import Conflict, NotFound
from cerebra.kits.kit import KitError, load_kit
from cerebra.kits.registry import (
    eval_texts,
    get_kit,
    install,
    installed_kits,
    kits_dir,
    known_kits,
    uninstall,
)
from tests.kits.helpers import write_kit


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_install_from_a_folder_copies_only_the_kit_files(tmp_path: Path) -> None:
    source = write_kit(tmp_path / "src", name="mine")
    (source / "notes.txt").write_text("not part of the kit")
    home = tmp_path / "home"
    kit = install(str(source), home)
    assert kit.name == "mine" and kit.path == (kits_dir(home) / "mine").resolve()
    assert sorted(p.name for p in (kits_dir(home) / "mine").iterdir()) == [
        "eval.jsonl", "kit.yaml", "train.jsonl"]
    assert [k.name for k in installed_kits(home)] == ["mine"]
    assert get_kit("mine", home).content_hash == load_kit(source).content_hash
    origins = dict((k.name, o) for k, o in known_kits(home))
    assert origins["mine"] == "installed" and origins["date-iso"] == "builtin"


def test_a_bad_kit_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(write_kit(tmp_path / "good", name="mine"), home)
    before = (kits_dir(home) / "mine" / "eval.jsonl").read_text()
    bad = write_kit(tmp_path / "bad", name="mine")
    (bad / "eval.jsonl").write_text('{"id": "1", "input": "x"}\n{broken\n')
    with pytest.raises(KitError, match=r"eval\.jsonl line 1: reference"):
        install(bad, home, replace=True)
    assert _leftovers(kits_dir(home)) == ["mine"]  # no staging folder left behind
    assert (kits_dir(home) / "mine" / "eval.jsonl").read_text() == before


def test_names_are_not_taken_twice(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(write_kit(tmp_path / "a", name="mine"), home)
    with pytest.raises(Conflict, match="installed already"):
        install(write_kit(tmp_path / "b", name="mine"), home)
    with pytest.raises(Conflict, match="built-in"):
        install(write_kit(tmp_path / "c", name="date-iso"), home)
    changed = write_kit(tmp_path / "d", name="mine", eval_=[
        {"id": "new", "input": "a new question", "reference": "x"}])
    assert [i.id for i in install(changed, home, replace=True).eval] == ["new"]
    assert _leftovers(kits_dir(home)) == ["mine"]
    uninstall("mine", home)
    with pytest.raises(NotFound):
        get_kit("mine", home)


def test_links_in_a_kit_folder_are_refused(tmp_path: Path) -> None:
    source = write_kit(tmp_path / "src", name="linky")
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"id": "s", "input": "secret", "reference": "s"}\n')
    (source / "eval.jsonl").unlink()
    os.symlink(secret, source / "eval.jsonl")
    with pytest.raises(KitError, match="a link"):
        install(source, tmp_path / "home")
    assert _leftovers(kits_dir(tmp_path / "home")) == []


def test_a_tenants_kits_are_its_own(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(write_kit(tmp_path / "a", name="acme-only"), home, tenant="acme")
    assert get_kit("acme-only", home, tenant="acme").name == "acme-only"
    with pytest.raises(NotFound):
        get_kit("acme-only", home, tenant="globex")
    with pytest.raises(NotFound):
        get_kit("acme-only", home)
    assert "eval question 0" in eval_texts(home)  # every tenant's eval items count


def test_eval_texts_hold_every_kits_held_out_inputs_and_references(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(write_kit(tmp_path / "a", name="mine"), home)
    texts = set(eval_texts(home))
    assert {"eval question 1", "b1"} <= texts
    assert "train question 1" not in texts
    dates = get_kit("date-iso", home)
    assert {dates.eval[0].input, dates.eval[0].reference} <= texts


def _entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                 target: str) -> None:
    """A distribution on sys.path whose entry point `name` in cerebra.kits is `target`."""
    site = tmp_path / "site"
    dist = site / "kitpkg-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kitpkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[cerebra.kits]\n{name} = {target}\n")
    monkeypatch.syspath_prepend(str(site))
    return None


def test_install_from_an_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_kit(tmp_path / "packaged", name="packaged")
    module = tmp_path / "site" / "kitpkg_mod.py"
    module.parent.mkdir(parents=True)
    module.write_text(f"from pathlib import Path\nKIT = Path({str(folder)!r})\n"
                      "def build():\n    from cerebra.kits.kit import load_kit\n"
                      "    return load_kit(KIT)\n")
    _entry_point(tmp_path, monkeypatch, "packaged", "kitpkg_mod:KIT")
    home = tmp_path / "home"
    assert install("packaged", home).name == "packaged"
    (tmp_path / "site" / "kitpkg-1.0.dist-info" / "entry_points.txt").write_text(
        "[cerebra.kits]\nbuilt = kitpkg_mod:build\n")
    built = install("built", home, tenant="acme")  # a callable giving a Kit
    assert built.name == "packaged" and len(built.eval) == 3
    with pytest.raises(NotFound, match="neither a kit folder nor an entry point"):
        install("no-such-kit", home)
    sys.modules.pop("kitpkg_mod", None)
