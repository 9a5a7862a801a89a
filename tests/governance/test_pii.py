"""PII detectors: card numbers count only when Luhn-valid, IBANs only when the mod-97 check
holds; e-mail addresses, phone numbers and secrets are found, look-alikes are not."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cerebra.governance import pii
from cerebra.governance.pii import PIIKind, find_pii, iban_valid, luhn_valid, redact


def kinds(text: str) -> list[str]:
    return [f.kind.value for f in find_pii(text)]


def luhn_complete(body: str) -> str:
    """`body` with the check digit that makes it Luhn-valid."""
    for d in "0123456789":
        if luhn_valid(body + d):
            return body + d
    raise AssertionError("no check digit")


def iban_of(country: str, bban: str) -> str:
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{country}{check:02d}{bban}"


def grouped(text: str, sep: str = " ") -> str:
    return sep.join(text[i:i + 4] for i in range(0, len(text), 4))


# -- cards ----------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=12, max_size=18), st.sampled_from(["", " ", "-"]))
def test_a_luhn_valid_number_is_a_card_and_one_changed_digit_is_not(body: str, sep: str) -> None:
    number = luhn_complete(body)
    shown = grouped(number, sep) if sep else number
    assert kinds(f"pay with {shown} today") == ["card"]
    # change one digit: the Luhn check catches every single-digit error
    i = len(number) // 2
    wrong = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1:]
    assert not luhn_valid(wrong)
    assert "card" not in kinds(f"pay with {grouped(wrong, sep) if sep else wrong} today")


@pytest.mark.parametrize("number", ["4111111111111111", "5500 0000 0000 0004",
                                    "3782-822463-10005", "6011000990139424"])
def test_known_test_card_numbers(number: str) -> None:
    assert kinds(number) == ["card"]


@pytest.mark.parametrize("text", ["4111111111111112", "order 1234567890123 shipped",
                                  "12345678901234567890123"])
def test_digit_runs_failing_luhn_or_too_long_are_not_cards(text: str) -> None:
    assert "card" not in kinds(text)


# -- IBANs ----------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["DE", "GB", "FR", "NL", "ES", "CH"]),
       st.text(string.digits + string.ascii_uppercase, min_size=12, max_size=26),
       st.booleans())
def test_an_iban_with_its_check_digits_is_found_and_a_changed_one_is_not(
        country: str, bban: str, spaced: bool) -> None:
    iban = iban_of(country, bban)
    assert iban_valid(iban)
    shown = grouped(iban) if spaced else iban
    assert kinds(f"send it to {shown} please") == ["iban"]
    last = iban[-1]  # a digit for a digit, a letter for a letter: mod 97 catches every such
    other = str((int(last) + 1) % 10) if last.isdigit() else chr((ord(last) - 64) % 26 + 65)
    changed = iban[:-1] + other
    assert not iban_valid(changed)
    assert "iban" not in kinds(f"send it to {grouped(changed) if spaced else changed}")


def test_known_ibans() -> None:
    assert kinds("GB82 WEST 1234 5698 7654 32 and more words") == ["iban"]
    assert kinds("DE89370400440532013000") == ["iban"]
    assert "iban" not in kinds("GB82 WEST 1234 5698 7654 33")


# -- e-mail, phone, secrets -----------------------------------------------------------------
@pytest.mark.parametrize("text", ["bob@example.com", "write to jane.doe+tag@mail.co.uk now"])
def test_emails(text: str) -> None:
    assert kinds(text) == ["email"]


@pytest.mark.parametrize("text", ["user at example dot com", "@handle", "a@b"])
def test_not_emails(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize("text", ["+44 20 7946 0958", "call (555) 123-4567", "555-123-4567",
                                  "+14155552671", "030 1234 5678"])
def test_phones(text: str) -> None:
    assert kinds(text) == ["phone"]


@pytest.mark.parametrize("text", ["on 2024-01-15", "version 1.2.3", "1234567",
                                  "costs 12.50 for 3", "room 12"])
def test_not_phones(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize("text", [
    "key sk-proj-AbCdEfGhIjKlMnOp1234",
    "ck-" + "Q" * 20 + "abc123_-xyz",
    "AKIAIOSFODNN7EXAMPLE",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (the rest still coming",
    "token aZ3kP9qLm2Xv8Bn4Rt6Yw1Ce5Df7Gh0Jk",
])
def test_secrets(text: str) -> None:
    assert kinds(text) == ["secret"]


@pytest.mark.parametrize("text", [
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # hex digest
    "sk-short", "the_quick_brown_fox_jumps_over_the_lazy_dog_again",
])
def test_not_secrets(text: str) -> None:
    assert kinds(text) == []


def test_redaction_replaces_each_finding_and_keeps_the_rest() -> None:
    text = "Mail bob@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958."
    out = redact(text, find_pii(text, [PIIKind.EMAIL, PIIKind.CARD]))
    assert out == ("Mail [EMAIL REDACTED], card [CARD REDACTED], call +44 20 7946 0958.")


def every_detector(text: str) -> list[tuple[str, int, int]]:
    """What find_pii found before its pre-checks: every detector run on every text."""
    taken: list[tuple[str, int, int]] = []
    for kind, detect in pii.DETECTORS.items():
        for start, end in detect(text):
            if not any(start < e and s < end for _, s, e in taken):
                taken.append((kind.value, start, end))
    return sorted(taken, key=lambda t: t[1])


FRAGMENTS = [
    # whole findings of each kind
    "ann.lee@example.org", "ck-Abcdefghijklmnop1234", "sk-proj_0123456789abcdefXYZ",
    "AKIAABCDEFGHIJKLMNOP", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n", "+44 20 7946 0958",
    "(555) 123-4567", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3",
    # pieces and look-alikes
    "sk-", "ck-", "AKIA", "ASIA", "@", ".com", "2024-05-01", "x" * 16, " ", "-", "\n", "é",
    "٣",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=12))
def test_the_pre_checks_skip_only_scans_that_could_not_match(parts: list[str]) -> None:
    # find_pii skips a kind when the text lacks what its pattern needs (a digit, an "@",
    # a secret's literal mark): the findings are what running every scan finds
    text = "".join(parts)
    found = [(f.kind.value, f.start, f.end) for f in find_pii(text)]
    assert found == every_detector(text)
    if pii._SECRETS.search(text):
        assert pii._SECRET_MARK.search(text)
