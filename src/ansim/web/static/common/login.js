import { api } from "./api.js";
import { langToggle, t, translatePage } from "./i18n.js";
import { applyTheme } from "./ui.js";

// The theme this browser chose, else the system's (common/ui.js).
applyTheme();

translatePage();
langToggle(document.getElementById("lang"));

document.getElementById("login-form").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const form = new FormData(submitted.target);
  const error = document.getElementById("login-error");
  error.textContent = "";
  const body = { username: form.get("username"), password: form.get("password") };
  const second = String(form.get("otp") ?? "").trim();
  if (/^\d{6}$/.test(second)) body.otp = second;
  else if (second) body.recovery_code = second;
  try {
    const session = await api("/api/v1/session", { method: "POST", body, redirectOn401: false });
    if (session.enrolment_required) {
      if (session.enrolment_code_required) askEnrolmentCode();
      else await startEnrolment({});
      return;
    }
    goHome(session);
  } catch (failure) {
    const otpRow = document.getElementById("otp-row");
    if (failure.status === 401 && otpRow.hidden && /code|second|factor|otp/i.test(failure.message)) {
      otpRow.hidden = false;
      error.textContent = t("인증 앱의 코드를 입력하세요.", "Enter the code from your authenticator app.");
      return;
    }
    error.textContent = failure.status === 401
      ? t("아이디, 비밀번호 또는 인증 코드가 틀렸습니다.", "Wrong user name, password or code.")
      : t("로그인할 수 없습니다: ", "Cannot log in: ") + failure.message;
  }
});

// Only the consoles' own pages: `next=/%5Cevil.example` or `//evil` would otherwise leave the origin.
const KNOWN_PAGES = /^\/(board|mdt|cctv|admin\/enrol|admin|supervisor)(\/[A-Za-z0-9_-]*)?$/;

function goHome(session) {
  const next = new URLSearchParams(location.search).get("next");
  const home = session.user.role === "officer" ? "/mdt" : session.user.role === "cctv_operator" ? "/cctv" : "/board";
  location.assign(safeNext(next) || home);
}

function safeNext(next) {
  if (!next || !KNOWN_PAGES.test(next)) return null;
  const target = new URL(next, location.origin);
  return target.origin === location.origin ? target.pathname : null;
}

// No trust on first use: the person first gives the one-time code an admin handed them, so a
// stolen password alone never enrols the thief's authenticator.
function askEnrolmentCode() {
  document.getElementById("login-form").hidden = true;
  const section = document.getElementById("enrol");
  section.hidden = false;
  // Our own fixed words only (no input goes into this markup); data-ko/data-en follow the toggle.
  const both = (ko, en) => `<span data-ko="${ko}" data-en="${en}">${t(ko, en)}</span>`;
  section.innerHTML = `
    <h2>${both("2단계 인증 등록", "Set up two-step login")}</h2>
    <p id="enrolment-code-help">${both("관리자에게 직접 받은 일회용 등록 코드를 입력하세요.", "Enter the one-time enrolment code your administrator gave you.")}</p>
    <form id="enrolment-code-form">
      <label>${both("등록 코드", "Enrolment code")}<input name="enrolment_code" autocomplete="off" autocapitalize="off" spellcheck="false" minlength="6" maxlength="40" required aria-describedby="enrolment-code-help"></label>
      <button type="submit">${both("계속", "Continue")}</button>
    </form>`;
  const field = section.querySelector("input[name=enrolment_code]");
  field.focus();
  document.getElementById("enrolment-code-form").addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const error = document.getElementById("login-error");
    error.textContent = "";
    try {
      await startEnrolment({ enrolment_code: field.value.trim() });
    } catch (failure) {
      error.textContent = failure.status === 403
        ? t("등록 코드가 맞지 않거나 만료되었습니다. 관리자에게 새 코드를 받으세요.", "The enrolment code is wrong or expired. Ask your administrator for a new one.")
        : t("등록할 수 없습니다: ", "Cannot enrol: ") + failure.message;
      field.focus();
    }
  });
}

// Dispatchers, supervisors and admins enrol an authenticator before their session can do anything else.
async function startEnrolment(body) {
  const enrolment = await api("/api/v1/session/totp", { method: "POST", body });
  document.getElementById("login-form").hidden = true;
  const section = document.getElementById("enrol");
  section.hidden = false;
  // Built only when needed, so the login form stays the page's one form.
  section.innerHTML = `
    <h2>${t("2단계 인증 등록", "Set up two-step login")}</h2>
    <p>${t("인증 앱에 아래 주소(otpauth)를 등록한 뒤 표시된 코드를 입력하세요.", "Add the otpauth address below to your authenticator app, then enter the code it shows.")}</p>
    <code id="otpauth" class="otpauth"></code>
    <form id="enrol-form">
      <label>${t("코드", "Code")}<input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
      <button type="submit">${t("등록", "Confirm")}</button>
    </form>
    <ol id="recovery" class="recovery"></ol>`;
  document.getElementById("otpauth").textContent = enrolment.otpauth_uri;
  document.getElementById("enrol-form").addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const code = new FormData(submitted.target).get("code");
    try {
      const confirmed = await api("/api/v1/session/totp/confirm", { method: "POST", body: { code } });
      const list = document.getElementById("recovery");
      list.replaceChildren(...confirmed.recovery_codes.map((c) => Object.assign(document.createElement("li"), { textContent: c })));
      const go = document.createElement("button");
      go.type = "button";
      go.textContent = t("복구 코드를 보관했습니다 — 다시 로그인", "I kept the recovery codes — log in again");
      go.addEventListener("click", () => location.reload());
      list.after(go);
    } catch (failure) {
      document.getElementById("login-error").textContent = failure.message;
    }
  });
  section.querySelector("input[name=code]").focus();
}
