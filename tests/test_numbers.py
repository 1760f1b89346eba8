"""Phone numbers enter as E.164: Korean domestic forms accepted, anything unreachable refused."""

from __future__ import annotations

import pytest

from ansim.domain.errors import InvalidInput
from ansim.intake.numbers import domestic_form, normalize_number, normalize_optional


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("010-1234-5678", "+821012345678"),
        ("01012345678", "+821012345678"),
        ("+82 10 1234 5678", "+821012345678"),
        ("+82-010-1234-5678", "+821012345678"),
        ("821012345678", "+821012345678"),
        ("(02) 123-4567", "+8221234567"),
        ("031-123-4567", "+82311234567"),
        ("064-1234-5678", "+826412345678"),
        ("070-1234-5678", "+827012345678"),
        ("0044 7700 900123", "+447700900123"),
        ("+1 310 555 0000", "+13105550000"),
    ],
)
def test_domestic_and_international_forms_become_e164(typed: str, e164: str) -> None:
    assert normalize_number(typed) == e164


@pytest.mark.parametrize(
    "typed", ["", "1", "112", "12345678", "010-123", "+8201", "02-12", "phone", "+0123456789"]
)
def test_numbers_that_cannot_be_reached_are_refused_with_the_accepted_forms(typed: str) -> None:
    with pytest.raises(InvalidInput, match=r"010-1234-5678, 02-123-4567 or \+821012345678"):
        normalize_number(typed)


def test_an_empty_optional_number_stays_empty_and_korean_numbers_show_domestic() -> None:
    assert normalize_optional("  ") == ""
    assert normalize_optional(None) == ""
    assert normalize_optional("010 9999 0000") == "+821099990000"
    assert domestic_form("+821012345678") == "010-1234-5678"
    assert domestic_form("+8221234567") == "02-123-4567"
    assert domestic_form("+447700900123") == "+447700900123"
