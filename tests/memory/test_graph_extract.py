"""Rule-based entity and relation extraction (cerebra.memory.graph_extract)."""

from __future__ import annotations

from cerebra.memory.graph_extract import extract, name_key, query_keys


def _kinds(text: str) -> dict[str, str]:
    return {m.key: m.kind for m in extract(text).mentions}


def test_names_places_dates_numbers_and_phrases() -> None:
    found = _kinds(
        "Yesterday Caroline Smith moved from New York City to Sweden on 8 May 2023. "
        "I paid $500 for 3 tickets to the pottery class."
    )
    assert found["caroline smith"] == "person"
    assert found["new york city"] == "name" and found["sweden"] == "name"  # after from / to
    assert found["2023-05-08"] == "date"
    assert found["$500"] == "number" and found["3 ticket"] == "number"
    assert found["potteri class"] == "thing"  # stemmed words: plurals and forms link
    assert "yesterday" not in found  # a sentence opener that is no name elsewhere


def test_sentence_openers_and_function_words_are_no_names() -> None:
    found = _kinds("Hey! Thanks so much. Painting is fun. The weather is nice. I agree.")
    assert found == {"painting": "opener"}  # a name only where the store knows it as one
    # a capitalised opener is a name when the text capitalises it mid-sentence too
    assert "melanie" in _kinds("Melanie laughed. I told Melanie about it.")


def test_mentions_of_one_entity_share_a_key() -> None:
    assert name_key("Caroline's") == name_key("CAROLINE") == "caroline"
    assert name_key("the Louvre") == "louvre"
    one = extract("Caroline Smith has a dog. Caroline's dog is called Bo.")
    keys = {m.key: m.count for m in one.mentions}
    assert "caroline" not in keys and keys["caroline smith"] == 2  # first name folded in


def test_pronouns_count_for_the_last_person_of_the_turn() -> None:
    one = extract("I met Anna at the market. She said her family moved to Oslo.")
    counts = {m.key: m.count for m in one.mentions}
    assert counts["anna"] == 3  # Anna, She, her
    relations = {(r.subject, r.predicate, r.object) for r in one.relations}
    assert ("anna", "family moved to", "oslo") in relations


def test_relations_between_consecutive_entities() -> None:
    one = extract("Yesterday Caroline moved to Sweden. Bob and Alice")
    assert [(r.subject, r.predicate, r.object) for r in one.relations] == [
        ("caroline", "moved to", "sweden")
    ]  # "and" alone is no predicate


def test_query_keys_take_a_leading_name() -> None:
    assert "caroline" in query_keys("Caroline's plans for 2024?")
    assert "2024" in query_keys("Caroline's plans for 2024?")
    assert "what" not in query_keys("What did Melanie paint?")


def test_empty_and_odd_text() -> None:
    assert extract("").mentions == () and extract("...!!").relations == ()
    assert extract("ÉMILE ZOLA wrote in 1880 — naïve café talk").keys() >= {"émile zola", "1880"}


def test_punctuation_and_speaker_labels_end_a_name() -> None:
    found = _kinds("Caroline: Hey Mel! I met Ana, Bo and Cy in Paris, France on May 8, 2023.")
    assert {"caroline hey mel", "ana bo", "bo and cy", "paris france"}.isdisjoint(found)
    assert {"mel", "ana", "bo", "cy", "paris", "2023-05-08"} <= set(found)
    assert found["caroline"] == "opener"  # a speaker label opens the line
