"""The HTTP API against its own OpenAPI schema with schemathesis — the equivalent of
`st run --checks all`: every built-in check (no 5xx, documented status codes, content
types and headers, responses matching their schemas, schema-invalid input refused and
schema-valid input accepted, 405 with a correct Allow, declared auth enforced, missing
headers refused, stateful use-after-free and resource availability) over every phase
(coverage, fuzzing, stateful), as an admin of the default tenant with authentication on.

Schemathesis' engine runs in-process against the ASGI app (its pytest plugin's lazy
schemas do not work with pytest 9). Rules a field's type does not say are stated in the
schema too (cerebra/server/request_schemas.py: the filter language, each role's grantable
scopes, OAuth's form rules, "a scope or confirm_all"; settings-derived limits and the
catalog entries the server admits, per kind, in openapi_doc). `KNOWN` lists the (operation,
check) pairs that still fail, each for a reason the schema cannot state; the test fails on
any other failure, and on a known one that no longer fails (so the list only shrinks).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.engine import Status, events

from cerebra.auth.identity import IdentityStore
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel

MAX_EXAMPLES = 5
KNOWN: set[tuple[str, str]] = {
    # the file's text must be JSONL rows of one training format (OpenAI chat or DPO, TRL):
    # a schema-valid string is almost never that, and the server refuses it (422 naming
    # the line) as the issue asks; JSON Schema cannot state "JSON lines of this shape"
    ("POST /api/v1/datasets/upload", "positive_data_acceptance"),
    # a workflow must validate (its YAML: a schema-valid string is almost never a workflow,
    # refused with 422 naming key and line; its keys: bounds that depend on one another) and
    # training needs datasets (the request's or the workflow's own: a template names none);
    # JSON Schema cannot state "YAML that is a valid workflow"
    ("POST /api/v1/workflows/create", "positive_data_acceptance"),
    ("POST /api/llm/train", "positive_data_acceptance"),
}


def run(home: Path) -> tuple[int, dict[tuple[str | None, str], list[str]]]:
    """(cases run, failures by (operation, check)) of one full schemathesis run."""
    config = Settings(home=home, auth={"mode": "on"}, health={"interval_s": 0})
    brain = Brain.from_settings(config, model=FakeModel("a short answer"),
                                embedder=FakeEmbedder())
    try:
        secret, _ = IdentityStore(brain.engine).create_key("default", role="admin")
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(config, brain=brain))
        schema.config.update(headers={"Authorization": f"Bearer {secret}"})
        # no example database: a fresh clone (CI) and this tree generate the same cases
        schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")
        schema.config.seed = 20_261_130  # the same cases every run
        # a body over server.max_body_bytes is refused as such (413), valid or not
        schema.config.checks.negative_data_rejection.expected_statuses.append("413")
        cases, failures = 0, defaultdict(list)
        for event in schemathesis.engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                cases += len(event.recorder.cases)
                for case_id, nodes in event.recorder.checks.items():
                    # a stateful scenario has no label: name the operation of its case
                    case = event.recorder.cases.get(case_id)
                    label = event.label or (case.value.operation.label if case else None)
                    for node in nodes:
                        if node.status == Status.FAILURE:
                            info = node.failure_info
                            text = str(info.failure) if info is not None else node.name
                            response = event.recorder.find_response(case_id=case_id)
                            if response is not None:
                                text += f" [{response.status_code}] {response.text[:200]}"
                            failures[(label, node.name)].append(text[:600])
            elif isinstance(event, events.NonFatalError | events.FatalError):
                detail = getattr(event, "info", None) or getattr(event, "exception", event)
                failures[(None, "engine error")].append(str(detail)[:300])
        return cases, failures
    finally:
        brain.close()


@pytest.fixture
def fixed_home() -> Iterator[Path]:
    """The same data folder path every run: the document states paths under the model
    folders (catalog entries), so a different folder would change the schema and with it
    every case the fixed seed generates."""
    home = Path(tempfile.gettempdir()) / "cerebra-schemathesis" / "home"
    shutil.rmtree(home.parent, ignore_errors=True)
    yield home
    shutil.rmtree(home.parent, ignore_errors=True)


def test_the_api_passes_every_schemathesis_check(fixed_home: Path) -> None:
    cases, failures = run(fixed_home)
    print(f"{cases} cases; failing (operation, check): {len(failures)}")
    assert cases > 500
    new = {k: v[:2] for k, v in failures.items() if k not in KNOWN}
    assert not new, new
    fixed = {k for k in KNOWN if k not in failures}
    assert not fixed, f"no longer failing, remove from KNOWN: {fixed}"
