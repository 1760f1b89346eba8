"""Phone numbers as one canonical E.164 string, so carrier, SMS centre and enrolment agree.

Every number that enters ansim (guardians, school guards, the 112 app, carriers, CSV imports) passes
`normalize_number`; a number it cannot turn into E.164 is refused with a message that shows the
accepted forms, because a number kept as typed is a message that can never be delivered.
"""

from __future__ import annotations

import re

from ansim.domain.errors import InvalidInput

COUNTRY_CODE = "82"
_SEPARATORS = re.compile(r"[\s\-().·/]")
_DIGITS = re.compile(r"\+?\d+")
# E.164: a country code that does not start with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9]\d{7,14}")
# Korean national significant numbers: 2 (Seoul) + 7-8 digits, 3x-6x area codes + 7-8 digits,
# 10/11/16-19 mobile + 7-8 digits, 50x/70 personal and internet numbers + 7-8 digits.
_KOREAN_NATIONAL = re.compile(r"(2\d{7,8}|[3-6][1-5]\d{7,8}|1[016789]\d{7,8}|50\d{8,9}|70\d{8})")
ACCEPTED_FORMS = "010-1234-5678, 02-123-4567 or +821012345678"


def normalize_number(number: str) -> str:
    """'010-1234-5678', '821012345678' and '+82 10 1234 5678' all become '+821012345678'.

    Raises InvalidInput (a 422 at the API) for anything that is not a reachable phone number.
    """
    compact = _SEPARATORS.sub("", number or "")
    if not _DIGITS.fullmatch(compact):
        raise _refused(number)
    if compact.startswith("+"):
        e164 = compact
    elif compact.startswith("00"):
        e164 = "+" + compact[2:]
    elif compact.startswith("0"):
        e164 = f"+{COUNTRY_CODE}{compact[1:]}"
    elif compact.startswith(COUNTRY_CODE) and len(compact) >= 11:
        e164 = "+" + compact
    else:
        raise _refused(number)
    if e164.startswith(f"+{COUNTRY_CODE}0"):
        # "+82 010-…": the domestic trunk 0 written after the country code.
        e164 = f"+{COUNTRY_CODE}{e164[len(COUNTRY_CODE) + 2 :]}"
    if not _E164.fullmatch(e164):
        raise _refused(number)
    if e164.startswith(f"+{COUNTRY_CODE}") and not _KOREAN_NATIONAL.fullmatch(
        e164[len(COUNTRY_CODE) + 1 :]
    ):
        raise _refused(number)
    return e164


def normalize_optional(number: str | None) -> str:
    """An empty or missing number stays empty (where an e-mail address may stand in for it)."""
    if number is None or not number.strip():
        return ""
    return normalize_number(number)


def domestic_form(e164: str) -> str:
    """'+821012345678' → '010-1234-5678' for Korean staff; other numbers are shown as stored."""
    if not e164.startswith(f"+{COUNTRY_CODE}"):
        return e164
    national = "0" + e164[len(COUNTRY_CODE) + 1 :]
    area = 2 if national.startswith("02") else 3
    rest = national[area:]
    split = len(rest) - 4
    return f"{national[:area]}-{rest[:split]}-{rest[split:]}"


def _refused(number: str) -> InvalidInput:
    return InvalidInput(f"{number!r} is not a phone number: write it as {ACCEPTED_FORMS}")
