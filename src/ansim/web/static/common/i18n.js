// Korean and English on every page: t(ko, en) picks by the chosen language, remembered per browser.
const STORE = "ansim.lang";

export function currentLang() {
  const saved = localStorage.getItem(STORE);
  if (saved === "ko" || saved === "en") return saved;
  return navigator.language.startsWith("ko") ? "ko" : "en";
}

export function t(ko, en) {
  return currentLang() === "ko" ? ko : en;
}

export function setLang(lang) {
  localStorage.setItem(STORE, lang);
  document.documentElement.lang = lang;
}

// Fills every element carrying data-ko / data-en with the text of the current language.
export function translatePage(root = document) {
  const lang = currentLang();
  document.documentElement.lang = lang;
  for (const element of root.querySelectorAll("[data-ko]")) {
    element.textContent = lang === "ko" ? element.dataset.ko : element.dataset.en;
  }
  for (const element of root.querySelectorAll("[data-ko-label]")) {
    element.setAttribute("aria-label", lang === "ko" ? element.dataset.koLabel : element.dataset.enLabel);
  }
  for (const element of root.querySelectorAll("[data-ko-placeholder]")) {
    element.placeholder = lang === "ko" ? element.dataset.koPlaceholder : element.dataset.enPlaceholder;
  }
}

export function langToggle(button, onChange) {
  const label = () => {
    button.textContent = currentLang() === "ko" ? "English" : "한국어";
  };
  label();
  button.addEventListener("click", () => {
    setLang(currentLang() === "ko" ? "en" : "ko");
    label();
    translatePage();
    onChange?.();
  });
}

export function ago(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return t(`${seconds}초 전`, `${seconds} s ago`);
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return t(`${minutes}분 전`, `${minutes} min ago`);
  const hours = Math.floor(minutes / 60);
  return t(`${hours}시간 전`, `${hours} h ago`);
}
