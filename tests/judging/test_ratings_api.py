"""/api/ratings and /api/competitions over real API keys: the caller's tenant's leaderboard and
competitions only, ratings:read required, bad parameters refused as JSON errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.judging.ratings import Comparison, Outcome
from cerebra.judging.store import JudgingStore
from tests.helpers import api_world
from tests.judging.test_ratings_store import Entry, Result, Verdict


@dataclass
class World:
    client: TestClient
    store: JudgingStore
    headers: dict[str, dict[str, str]]  # name -> Authorization header

    def get(self, path: str, key: str = "admin", **params: str | int | float) -> Response:
        return self.client.get(path, params=params, headers=self.headers[key])


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with api_world(monkeypatch) as made:  # tenant "other" plays the other company
        headers = {"admin": made.admin, "reader": made.reader, "user": made.user,
                   "globex": made.other}
        yield World(made.client, JudgingStore(made.client.app.state.brain.engine), headers)
    get_settings.cache_clear()


def _seed(store: JudgingStore) -> str:
    mine = RequestContext(tenant_id="default")
    result = Result("2+2?", (Entry("gemma", "4", score=1.0), Entry("smollm2", "5")),
                    Verdict("gemma", rationale="4 is right", agreement=0.5,
                            comparisons=(Comparison("gemma", "smollm2", Outcome.A),)))
    store.record_competition(mine, result, category="math")
    store.record_comparisons(mine, [Comparison("gemma", "smollm2", Outcome.A)] * 4
                             + [Comparison("smollm2", "gemma", Outcome.TIE)])
    store.record_comparisons(RequestContext(tenant_id="other"),
                             [Comparison("secret-model", "other", Outcome.A)])
    return result.id


def test_the_leaderboard_is_the_callers_tenants(world: World) -> None:
    _seed(world.store)
    board = world.get("/api/ratings", bootstrap=50).json()
    assert [r["contestant"] for r in board["ratings"]] == ["gemma", "smollm2"]
    top = board["ratings"][0]
    assert top["elo_low"] < top["elo"] < top["elo_high"] and top["wins"] == 5.5
    assert board["comparisons"] == 6 and "50 resamples" in board["intervals"]
    math = world.get("/api/ratings", category="math", bootstrap=0).json()
    assert math["comparisons"] == 1 and math["category"] == "math"
    theirs = world.get("/api/ratings", "globex").json()
    assert [r["contestant"] for r in theirs["ratings"]] == ["secret-model", "other"]


def test_competitions_are_listed_and_shown_to_their_tenant_only(world: World) -> None:
    cid = _seed(world.store)
    listed = world.get("/api/competitions", "reader").json()
    assert listed["total"] == 1 and listed["competitions"][0]["id"] == cid
    assert listed["competitions"][0]["contestants"] == ["gemma", "smollm2"]
    shown = world.get(f"/api/competitions/{cid}").json()
    assert shown["entries"][0] | {"score": 1.0} == shown["entries"][0]
    assert shown["entries"][0]["answer"] == "4" and shown["rationale"] == "4 is right"
    other = world.get(f"/api/competitions/{cid}", "globex")
    assert other.status_code == 404
    assert other.json()["error"]["type"] == "not_found"
    assert world.get("/api/competitions", "globex").json()["total"] == 0


def test_a_user_key_lacks_ratings_read(world: World) -> None:
    response = world.get("/api/ratings", "user")
    assert response.status_code == 403
    assert response.json()["error"]["required_scope"] == "ratings:read"


def test_bad_parameters_are_refused_as_json(world: World) -> None:
    for params in ({"bootstrap": 5000}, {"level": 1.0}, {"category": "c" * 101},
                   {"seed": -1}):
        response = world.get("/api/ratings", **params)
        assert response.status_code == 422, params
        assert "error" in response.json()
    assert world.get("/api/competitions", limit=0).status_code == 422
