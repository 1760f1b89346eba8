// Extra sections of the incident detail panel, one module per capability:
// each is {id, render(container, detail, ctx)}; ctx = {api, t, lang, map, refresh}.
import { cctvSection } from "./cctv_section.js";
import { dispatchSection } from "./dispatch-section.js";

export const detailSections = [dispatchSection, cctvSection];
