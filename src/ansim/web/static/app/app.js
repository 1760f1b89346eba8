// The 112 app (PWA): registration by SMS code, one-touch silent SOS, live location, cancel/duress.
import { get, post, untilAcknowledged } from "/static/app/client.js";
import { langToggle, t, translatePage } from "/static/common/i18n.js";
import { applyTheme } from "/static/common/ui.js";

applyTheme();

const store = window.localStorage;
const $ = (id) => document.getElementById(id);
const UPLOAD_EVERY_MS = 5000;
const STATUS_EVERY_MS = 10000;
// After any cancel the app keeps reporting quietly for a while: a forced cancel must not end tracking.
const TRAIL_AFTER_CANCEL_MS = 10 * 60 * 1000;

let challenge = null;
let incidentId = store.getItem("ansim.incident");
let pending = [];
let lastFix = null;
let watchId = null;
let uploader = null;
let sosInFlight = false;

function say(ko, en) { $("state").textContent = t(ko, en); }

function credential() { return store.getItem("ansim.credential"); }

function clientId() {
  let id = store.getItem("ansim.client");
  if (!id) { id = crypto.randomUUID(); store.setItem("ansim.client", id); }
  return id;
}

// Only the current step is on screen: the number, then the code, then home; cancel only during an SOS.
function show() {
  $("register").hidden = Boolean(credential());
  $("ask-code").hidden = Boolean(challenge);
  $("verify").hidden = !challenge;
  $("home").hidden = !credential();
  $("cancel").hidden = !incidentId || ["cancelled", "closed"].includes(quiet?.step);
  $("quiet").hidden = !quiet;
  if (quiet) drawQuiet();
}

// The quiet status after an SOS: received, help on the way (with ETA), an officer there; never the
// police's internal status. A duress cancel shows exactly what a real cancel shows.
let quiet = null;
const QUIET = {
  received: ["신고가 접수되었습니다.", "Your SOS was received."],
  help_coming: ["도움이 오고 있습니다.", "Help is on the way."],
  on_scene: ["경찰관이 도착했습니다.", "An officer is with you."],
  cancelled: ["신고가 취소되었습니다.", "SOS cancelled."],
  closed: ["신고가 종료되었습니다.", "Your SOS has ended."],
};

function quietStep(body) {
  const step = body.step ?? body.quiet_status ?? body.quiet;
  if (typeof step === "string" && QUIET[step]) return step;
  if (body.status === "active") return "received";
  return QUIET[body.status] ? body.status : "received";
}

function drawQuiet() {
  const [ko, en] = QUIET[quiet.step];
  $("quiet-step").textContent = t(ko, en);
  const eta = quiet.step === "help_coming" && typeof quiet.eta_s === "number" ? Math.max(1, Math.round(quiet.eta_s / 60)) : null;
  $("quiet-eta").textContent = eta === null ? "" : t(`약 ${eta}분 후 도착 예정`, `About ${eta} min away`);
  $("quiet").dataset.step = quiet.step;
}

async function refreshQuiet() {
  const id = incidentId || store.getItem("ansim.last-incident");
  if (!id || !credential()) return;
  try {
    const answer = await get(`/api/v1/app/incidents/${id}`, { credential: credential() });
    if (answer.status !== 200) return;
    quiet = { step: quietStep(answer.body), eta_s: answer.body.eta_s ?? null };
    show();
  } catch (error) { /* offline: keep what is shown */ }
}

function toFix(position) {
  return {
    lat: position.coords.latitude,
    lon: position.coords.longitude,
    accuracy_m: Math.min(position.coords.accuracy, 50000),
    confidence: 0.68,
    method: "unknown",
    observed_at: new Date(position.timestamp).toISOString(),
  };
}

function startLocation() {
  if (!("geolocation" in navigator) || watchId !== null) return;
  watchId = navigator.geolocation.watchPosition(
    (position) => { lastFix = toFix(position); if (incidentId) pending.push(lastFix); },
    () => {},
    { enableHighAccuracy: true, maximumAge: 0, timeout: 15000 },
  );
}

async function uploadFixes() {
  if (!incidentId || pending.length === 0) return;
  const batch = pending.splice(0, 100);
  try {
    const answer = await post(`/api/v1/app/incidents/${incidentId}/fixes`, { fixes: batch }, { credential: credential() });
    if (answer.status >= 500) pending.unshift(...batch);
  } catch (error) {
    pending.unshift(...batch);
  }
}

function firstFix(timeoutMs) {
  if (lastFix) return Promise.resolve(lastFix);
  return new Promise((resolve) => {
    if (!("geolocation" in navigator)) { resolve(null); return; }
    const timer = setTimeout(() => resolve(null), timeoutMs);
    navigator.geolocation.getCurrentPosition(
      (position) => { clearTimeout(timer); lastFix = toFix(position); resolve(lastFix); },
      () => { clearTimeout(timer); resolve(null); },
      { enableHighAccuracy: true, maximumAge: 10000, timeout: timeoutMs },
    );
  });
}

async function sendSos() {
  if ($("silent").checked) $("dark").hidden = false;
  if (sosInFlight) return; // one press is enough: the first is still being delivered
  sosInFlight = true;
  say("신고 중…", "Sending…");
  const fix = await firstFix(2000);
  // Kept across a reload: the same key resumes the same SOS, never a second one.
  const key = store.getItem("ansim.sos-key") || crypto.randomUUID();
  store.setItem("ansim.sos-key", key);
  const answer = await untilAcknowledged(
    () => post("/api/v1/app/sos", fix ? { fix } : {}, { credential: credential(), key }),
    {
      onRetry: ({ attempt }) => say(
        `연결 중… 신고를 계속 보내고 있습니다 (${attempt}번째 재시도). 급하면 112에 전화하세요.`,
        `Connecting… still sending your SOS (retry ${attempt}). If you can, call 112.`,
      ),
    },
  );
  sosInFlight = false;
  store.removeItem("ansim.sos-key");
  if (answer.status === 200 || answer.status === 201) {
    incidentId = answer.body.incident_id;
    store.setItem("ansim.incident", incidentId);
    store.setItem("ansim.last-incident", incidentId);
    say("", "");
    quiet = { step: "received", eta_s: null };
    startLocation();
    uploader = uploader || setInterval(uploadFixes, UPLOAD_EVERY_MS);
  } else {
    // Refused for good (e.g. this install was signed out): retrying cannot help.
    say("이 기기로는 신고할 수 없습니다 — 112에 전화하세요", "This device cannot send an SOS — call 112");
  }
  show();
}

async function cancelSos(event) {
  event.preventDefault();
  let answer = { status: 0, body: {} };
  try {
    answer = await post(`/api/v1/app/incidents/${incidentId}/cancel`, { pin: $("cancel-pin").value }, { credential: credential() });
  } catch (error) { /* offline: said below */ }
  $("cancel-pin").value = "";
  if (answer.status === 200) {
    // The same words whatever PIN it was: the answer is "cancelled" for both.
    say("", "");
    quiet = { step: "cancelled", eta_s: null };
    const stopped = incidentId;
    setTimeout(() => {
      if (incidentId === stopped) { clearInterval(uploader); uploader = null; incidentId = null; }
    }, TRAIL_AFTER_CANCEL_MS);
    store.removeItem("ansim.incident");
    show();
  } else if (answer.status === 403) {
    say("PIN이 맞지 않습니다.", "Wrong PIN.");
  } else {
    say("취소하지 못했습니다. 다시 시도하세요.", "Could not cancel. Try again.");
  }
}

$("ask-code").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await post("/api/v1/app/register", { phone_number: $("phone").value, client_id: clientId() });
  if (answer.status === 202) {
    challenge = answer.body.challenge_id;
    show();
    say("문자로 받은 인증번호를 입력하세요.", "Enter the code we sent by SMS.");
  } else {
    say(`요청 실패: ${answer.body.detail || answer.status}`, `Request failed: ${answer.body.detail || answer.status}`);
  }
});

$("verify").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await post("/api/v1/app/register/verify", {
    challenge_id: challenge,
    phone_number: $("phone").value,
    code: $("code").value,
    name: $("name").value,
    birth_year: Number($("birth-year").value),
    pin: $("pin").value,
    duress_pin: $("duress-pin").value,
  });
  if (answer.status === 201) {
    store.setItem("ansim.credential", answer.body.credential);
    challenge = null;
    say("등록되었습니다.", "Registered.");
    startLocation();
    show();
  } else {
    say(`인증 실패: ${answer.body.detail || answer.status}`, `Verification failed: ${answer.body.detail || answer.status}`);
  }
});

$("sos").addEventListener("click", sendSos);
$("cancel").addEventListener("submit", cancelSos);
$("dark").addEventListener("dblclick", () => { $("dark").hidden = true; });
langToggle($("lang"), () => {
  if (quiet) drawQuiet();
});

if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
translatePage();
show();
if (credential()) startLocation();
if (incidentId) uploader = setInterval(uploadFixes, UPLOAD_EVERY_MS);
// An SOS still being sent when the page closed goes on with the same key.
if (credential() && store.getItem("ansim.sos-key")) sendSos();
refreshQuiet();
setInterval(refreshQuiet, STATUS_EVERY_MS);
