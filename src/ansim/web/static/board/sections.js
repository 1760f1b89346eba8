// Extra sections of the incident detail panel, one module per capability:
// each is {id, render(container, detail, ctx)}; ctx = {api, t, lang, map, refresh}.
export const detailSections = [];
