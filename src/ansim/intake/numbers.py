"""Phone numbers as one canonical E.164 string, so carrier, SMS centre and enrolment agree."""

from __future__ import annotations

import re

from ansim.domain.errors import InvalidInput

COUNTRY_CODE = "82"
_DIGITS = re.compile(r"\+?\d{3,20}")


def normalize_number(number: str) -> str:
    """'010-1234-5678', '821012345678' and '+82 10 1234 5678' all become '+821012345678'."""
    compact = re.sub(r"[\s\-().]", "", number)
    if not _DIGITS.fullmatch(compact):
        raise InvalidInput(f"{number!r} is not a phone number")
    if compact.startswith("+"):
        return compact
    if compact.startswith("00"):
        return "+" + compact[2:]
    if compact.startswith("0"):
        return f"+{COUNTRY_CODE}{compact[1:]}"
    if compact.startswith(COUNTRY_CODE) and len(compact) >= 11:
        return "+" + compact
    # Short codes and foreign forms without a prefix are kept as they came.
    return compact
