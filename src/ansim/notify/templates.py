"""Message templates per language; they name only what the recipient already knows."""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from ansim.domain.errors import InvalidInput

# The languages every template is written in; guardians and school guards choose one of them.
LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class MessageTemplate:
    subject: str
    body: str


# $name is the registered person's name as the guardian registered it; $school only for school guards.
TEMPLATES: dict[str, dict[str, MessageTemplate]] = {
    "verification_link": {
        "ko": MessageTemplate(
            "[112] $name 님 SOS 신고 — 확인 부탁드립니다",
            "[112] $name 님의 SOS로 경찰이 출동했습니다. 함께 계신지, 오작동인지 알려 주세요: $link",
        ),
        "en": MessageTemplate(
            "[112] SOS from $name — please confirm",
            "[112] Police are on the way after an SOS from $name. Tell us if you are with them or it was a mistake: $link",
        ),
    },
    "terminal_sos": {
        "ko": MessageTemplate(
            "[112] $name 님 안심단말기 SOS",
            "[112] $name 님의 안심단말기에서 SOS가 눌려 경찰에 접수되었습니다. 실시간 위치·응답: $link",
        ),
        "en": MessageTemplate(
            "[112] SOS from $name's safety terminal",
            "[112] $name pressed SOS on their safety terminal; the police have it. Live location and answer: $link",
        ),
    },
    "school_guard_sos": {
        "ko": MessageTemplate(
            "[112] $school 학생 SOS",
            "[112] $school 학생 $name 님이 안심단말기로 SOS를 보냈습니다. 경찰에 접수됨. 실시간 위치: $link",
        ),
        "en": MessageTemplate(
            "[112] SOS from a pupil of $school",
            "[112] $name, a pupil of $school, sent an SOS from their safety terminal; the police have it. Live location: $link",
        ),
    },
    "terminal_lost": {
        "ko": MessageTemplate(
            "[112] $name 님 안심단말기 연결 끊김",
            "[112] $name 님의 안심단말기 신호가 끊겼습니다. 전원과 휴대 여부를 확인해 주세요.",
        ),
        "en": MessageTemplate(
            "[112] $name's safety terminal is offline",
            "[112] We lost the signal of $name's safety terminal. Please check it is switched on and with them.",
        ),
    },
    "low_battery": {
        "ko": MessageTemplate(
            "[112] $name 님 안심단말기 배터리 부족",
            "[112] $name 님의 안심단말기 배터리가 부족합니다. 충전해 주세요.",
        ),
        "en": MessageTemplate(
            "[112] $name's safety terminal battery is low",
            "[112] The battery of $name's safety terminal is low. Please charge it.",
        ),
    },
    "sos_cancelled": {
        "ko": MessageTemplate(
            "[112] $name 님 SOS 취소",
            "[112] $name 님이 SOS를 취소했습니다. 걱정되시면 112에 전화해 주세요.",
        ),
        "en": MessageTemplate(
            "[112] SOS from $name cancelled",
            "[112] $name cancelled their SOS. If you are worried, call 112.",
        ),
    },
    # The 112 app's one-time registration code: both languages in one text (the app has no language yet).
    "app_otp": {
        "ko": MessageTemplate(
            "[112 안심] 인증번호",
            "[112 안심] 인증번호 $code (5분 안에 입력) / verification code $code",
        ),
    },
    # Silent notices on the wearer's own terminal (a small screen; the subject is the board's label).
    "help_coming": {
        "ko": MessageTemplate("도움이 오고 있음", "경찰이 출동했어요. 도움이 가고 있어요."),
        "en": MessageTemplate("help is coming", "Police are on the way. Help is coming."),
    },
    "stood_down": {
        "ko": MessageTemplate(
            "출동 종료", "경찰 출동이 끝났어요. 도움이 필요하면 SOS를 다시 누르세요."
        ),
        "en": MessageTemplate(
            "stood down", "The police call-out has ended. Press SOS again if you need help."
        ),
    },
}


def check_language(language: str) -> str:
    """`language` when messages can be written in it; InvalidInput (HTTP 422) otherwise."""
    if language not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return language


def render(template: str, language: str, **values: str) -> MessageTemplate:
    """The subject and body of `template` in `language` (Korean when the language is unknown)."""
    try:
        texts = TEMPLATES[template]
    except KeyError:
        raise InvalidInput(f"no message template {template!r}") from None
    chosen = texts.get(language, texts["ko"])
    return MessageTemplate(
        Template(chosen.subject).substitute(values), Template(chosen.body).substitute(values)
    )
