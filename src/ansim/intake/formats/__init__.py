"""Emergency location wire formats: AML SMS, Android ELS, PIDF-LO and NENA EIDO (pure, no I/O)."""

from ansim.intake.formats.aml import AmlError, AmlMessage, decode_aml_data_sms, parse_aml_text
from ansim.intake.formats.eido import EidoIncident, EidoTimelineEntry, build_eido, eido_validator
from ansim.intake.formats.els import ElsError, ElsMessage, parse_els_body, parse_els_form
from ansim.intake.formats.pidf import PidfDocument, PidfError, PidfLocation, parse_pidf_lo
from ansim.intake.formats.pidf_build import build_pidf_lo

__all__ = [
    "AmlError",
    "AmlMessage",
    "EidoIncident",
    "EidoTimelineEntry",
    "ElsError",
    "ElsMessage",
    "PidfDocument",
    "PidfError",
    "PidfLocation",
    "build_eido",
    "build_pidf_lo",
    "decode_aml_data_sms",
    "eido_validator",
    "parse_aml_text",
    "parse_els_body",
    "parse_els_form",
    "parse_pidf_lo",
]
