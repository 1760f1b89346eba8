// The guardian's expired / invalid link pages: the chosen language and theme, as on every page.
import { langToggle, translatePage } from "/static/common/i18n.js";
import { applyTheme } from "/static/common/ui.js";

applyTheme();
translatePage();
langToggle(document.getElementById("lang"));
