// The 112 app (PWA): registration by SMS code, one-touch silent SOS, live location, cancel/duress.
import { post, untilAcknowledged } from "/static/app/client.js";

const store = window.localStorage;
let lang = store.getItem("ansim.lang") || (navigator.language.startsWith("ko") ? "ko" : "en");
const t = (ko, en) => (lang === "ko" ? ko : en);
const $ = (id) => document.getElementById(id);
const UPLOAD_EVERY_MS = 5000;
// After any cancel the app keeps reporting quietly for a while: a forced cancel must not end tracking.
const TRAIL_AFTER_CANCEL_MS = 10 * 60 * 1000;

let challenge = null;
let incidentId = store.getItem("ansim.incident");
let pending = [];
let lastFix = null;
let watchId = null;
let uploader = null;
let sosInFlight = false;

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-ko]")) node.textContent = node.dataset[lang];
  $("lang").textContent = lang === "ko" ? "English" : "한국어";
}

function say(ko, en) { $("state").textContent = t(ko, en); }

function credential() { return store.getItem("ansim.credential"); }

function clientId() {
  let id = store.getItem("ansim.client");
  if (!id) { id = crypto.randomUUID(); store.setItem("ansim.client", id); }
  return id;
}

function show() {
  $("register").hidden = Boolean(credential());
  $("home").hidden = !credential();
  $("cancel").hidden = !incidentId;
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
    say("신고가 접수되었습니다. 경찰이 출동합니다.", "SOS received. Police are on the way.");
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
    say("신고가 취소되었습니다.", "SOS cancelled.");
    const stopped = incidentId;
    setTimeout(() => {
      if (incidentId === stopped) { clearInterval(uploader); uploader = null; incidentId = null; }
    }, TRAIL_AFTER_CANCEL_MS);
    store.removeItem("ansim.incident");
    $("cancel").hidden = true;
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
    $("verify").hidden = false;
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
$("lang").addEventListener("click", () => {
  lang = lang === "ko" ? "en" : "ko";
  store.setItem("ansim.lang", lang);
  applyLanguage();
});

if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
applyLanguage();
show();
if (credential()) startLocation();
if (incidentId) uploader = setInterval(uploadFixes, UPLOAD_EVERY_MS);
// An SOS still being sent when the page closed goes on with the same key.
if (credential() && store.getItem("ansim.sos-key")) sendSos();
