"""Query.annotated: the same query `dataclasses.replace` would give, with the notes after
the annotations it had; the query it came from is untouched."""

from __future__ import annotations

from dataclasses import fields, replace

from cerebra.context import RequestContext
from cerebra.exchange import Annotation, Query
from cerebra.models.base import Message


def test_annotated_is_replace_with_the_notes_appended() -> None:
    first = Annotation(source="limits", message="reserved 4 limits")
    query = Query(prompt="hello", context=RequestContext(tenant_id="t1", user_id="u1"),
                  history=(Message("user", "before"),), model="m", max_tokens=9,
                  extra={"tools": []}, annotations=(first,))
    second = Annotation(source="policy", message="flag: x", data={"rule": "r"})
    third = Annotation(source="policy", message="flag: y")

    out = query.annotated(second, third)

    assert out == replace(query, annotations=(first, second, third))
    assert out.annotations == (first, second, third)
    for f in fields(Query):
        if f.name != "annotations":
            assert getattr(out, f.name) is getattr(query, f.name), f.name
    assert query.annotations == (first,)  # the original keeps its own
    assert out is not query


def test_annotated_keeps_the_class_of_a_subclass() -> None:
    class Tagged(Query):
        pass

    out = Tagged(prompt="p").annotated(Annotation(source="s", message="m"))
    assert type(out) is Tagged
