// Shared page behaviour: theme (light/dark, remembered per browser), toasts, aria-live announcements,
// and the alert tone (WebAudio) that each console can mute for itself.
const THEME = "ansim.theme";

// The theme this browser chose; else the page's own (board and MDT open dark); else the system's.
export function applyTheme(fallback = null) {
  const saved = localStorage.getItem(THEME);
  const theme = saved === "dark" || saved === "light" ? saved : fallback;
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

export function themeToggle(button, t) {
  const dark = () => document.documentElement.dataset.theme === "dark" ||
    (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
  const label = () => {
    button.textContent = dark() ? t("밝은 화면", "Light") : t("어두운 화면", "Dark");
  };
  label();
  button.addEventListener("click", () => {
    const next = dark() ? "light" : "dark";
    localStorage.setItem(THEME, next);
    document.documentElement.dataset.theme = next;
    label();
  });
  return label;
}

function toastHolder() {
  let holder = document.querySelector(".toasts");
  if (!holder) {
    holder = document.createElement("div");
    holder.className = "toasts";
    document.body.append(holder);
  }
  return holder;
}

// A short message in the corner; it goes away by itself.
export function toast(text, kind = "", ms = 6000) {
  const item = document.createElement("div");
  item.className = `toast ${kind}`;
  item.textContent = text;
  toastHolder().append(item);
  setTimeout(() => item.remove(), ms);
  return item;
}

// Screen readers hear `text` from the page's aria-live region (id "announcer"; made if missing).
export function announce(text, urgent = false) {
  const id = urgent ? "announcer-urgent" : "announcer";
  let region = document.getElementById(id);
  if (!region) {
    region = document.createElement("div");
    region.id = id;
    region.className = "visually-hidden";
    region.setAttribute("aria-live", urgent ? "assertive" : "polite");
    region.setAttribute("role", urgent ? "alert" : "status");
    document.body.append(region);
  }
  region.textContent = "";
  // A fresh text node after a tick so the same message twice is read twice.
  setTimeout(() => { region.textContent = text; }, 30);
}

// The alert tone. Muting is per console (this browser's localStorage key), never global.
export function alertTone(storeKey) {
  let audio = null;
  const tone = {
    played: 0,
    get muted() { return localStorage.getItem(storeKey) === "1"; },
    set muted(value) { localStorage.setItem(storeKey, value ? "1" : "0"); },
    unlock() {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (Context && !audio) audio = new Context();
      if (audio && audio.state === "suspended") audio.resume();
    },
    // Three short beeps; `urgent` is higher. Counts in document.body.dataset.alerts for tests.
    play(urgent = false) {
      document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
      if (tone.muted) return false;
      tone.unlock();
      if (!audio) return false;
      const start = audio.currentTime;
      for (let i = 0; i < 3; i += 1) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = urgent ? 1046 : 880;
        gain.gain.value = 0.15;
        osc.connect(gain).connect(audio.destination);
        osc.start(start + i * 0.3);
        osc.stop(start + i * 0.3 + 0.18);
      }
      tone.played += 1;
      document.body.dataset.tones = String(tone.played);
      return true;
    },
  };
  return tone;
}
