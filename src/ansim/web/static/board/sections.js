// Extra sections of the incident detail panel, one module per capability:
// each is {id, render(container, detail, ctx)}; ctx = {api, t, lang, map, refresh}.
import { cctvSection } from "./cctv_section.js";
import { dispatchSection } from "./dispatch-section.js";
import { intakeSection } from "./intake.js";
import { locationSection } from "./location-section.js";
import { notesSection } from "./notes-section.js";
import verificationSection from "./verification-section.js";

export const detailSections = [locationSection, notesSection, dispatchSection, verificationSection, cctvSection, intakeSection];
