// The officer's terminal: log in, receive the order live, acknowledge, report status and position.
// Re-alerts with the reason on escalation; keeps status changes made offline and sends them in order.
import { currentLang, langToggle } from "/static/common/i18n.js";
import { LABELS, label, uncertaintyNow } from "/static/common/labels.js";
import { alertTone, announce, applyTheme } from "/static/common/ui.js";
import { createOrderMap } from "/static/mdt/map.js";
import { createOutbox } from "/static/mdt/outbox.js";

applyTheme("dark");
const tone = alertTone("ansim.mdt.muted");

const TEXT = {
  title: ["순찰차 단말 (MDT)", "Patrol terminal (MDT)"],
  offline: ["연결 끊김", "offline"],
  online: ["실시간 연결", "live"],
  login_title: ["경찰관 로그인", "Officer log-in"],
  username: ["아이디", "User name"],
  password: ["비밀번호", "Password"],
  log_in: ["로그인", "Log in"],
  log_out: ["로그아웃", "Log out"],
  unit_status: ["차량 상태", "Unit status"],
  no_order: ["대기 중 — 지령 없음", "Standing by — no order"],
  order: ["출동 지령", "Dispatch order"],
  ack: ["지령 확인", "Acknowledge"],
  decline: ["수행 불가", "Cannot go"],
  en_route: ["출동 중", "En route"],
  on_scene: ["현장 도착", "On scene"],
  clear: ["종결·복귀", "Clear"],
  attribution: ["지도·경로: © OpenStreetMap contributors (ODbL)", "Map and routes: © OpenStreetMap contributors (ODbL)"],
  new_order: ["새 출동 지령!", "New dispatch order!"],
  ack_in: ["확인 남은 시간", "Acknowledge within"],
  ack_overdue: ["확인 시간 초과 — 다음 차량으로 넘어갑니다", "Overdue — the order moves to the next unit"],
  acknowledged: ["확인됨", "acknowledged"],
  withdrawn: ["지령이 다른 차량으로 넘어갔습니다", "The order moved to another unit"],
  unknown_caller: ["미등록 신고자", "Unregistered caller"],
  born: ["년생", "born"],
  radius: ["오차 반경", "uncertainty"],
  road_region: ["차량 추정: 지도의 범위는 마지막 측위 후 도달 가능한 도로", "likely in a vehicle: the area on the map is the roads reachable since the last fix"],
  drive: ["예상 도착", "Drive time"],
  straight: ["직선 추정", "straight-line estimate"],
  gps_on: ["위치 전송 중", "sending position"],
  gps_off: ["위치 전송 안 됨", "position not sent"],
  escalated: ["코드 0 격상!", "Raised to code 0!"],
  notes: ["상황실 메모", "Notes from dispatch"],
  new_note: ["상황실 메모", "Note from dispatch"],
  understood: ["확인", "OK"],
  pending: ["전송 대기 (연결되면 보냄)", "waiting to send (sent when back online)"],
  order_moved: ["지령이 다른 차량으로 넘어갔습니다 — 확인이 늦게 도착했습니다", "Order moved to another unit — your acknowledgement arrived late"],
  wrong_login: ["아이디 또는 비밀번호가 틀렸습니다", "Wrong user name or password"],
  not_officer: ["경찰관 계정만 사용할 수 있습니다", "Officer accounts only"],
};
// Unit and order states and location methods: the shared words (common/labels.js).
const STATUS = { ...LABELS.AssignmentState, ...LABELS.UnitStatus };
const METHOD = LABELS.FixMethod;
const REFRESH_ON = new Set([
  "unit.ordered", "assignment.changed", "assignment.ack_timed_out", "incident.located",
  "incident.status_changed", "incident.priority_changed", "unit.status_changed", "unit.preempted",
  "incident.requeued", "incident.escalated", "incident.note_added",
]);
const POSITION_EVERY_MS = 10000;

const $ = (id) => document.getElementById(id);
const state = { user: null, order: null, unit: null,
  socket: null, lastEvent: 0, dueAt: null, known: new Set(), audio: null,
  lastPositionAt: 0, watch: null };

// The MDT's words are keyed (TEXT, data-t); the language is the one common/i18n.js keeps.
function t(key) {
  const pair = TEXT[key] || STATUS[key] || METHOD[key];
  if (!pair) return key;
  return currentLang() === "ko" ? pair[0] : pair[1];
}

function applyLanguage() {
  document.documentElement.lang = currentLang();
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  render();
}

function csrf() {
  const match = document.cookie.match(/(?:^|; )ansim_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(path, options = {}) {
  const headers = { "content-type": "application/json", ...(options.headers || {}) };
  if (options.method && options.method !== "GET") headers["x-csrf-token"] = csrf();
  const answer = await fetch(path, { ...options, headers, credentials: "same-origin" });
  if (answer.status === 204) return null;
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw Object.assign(new Error(body.detail || answer.statusText), { status: answer.status });
  return body;
}

function beep(urgent = false) {
  // Web Audio needs a user gesture first; the log-in click unlocked it.
  tone.play(urgent);
  if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
}

function unlockAudio() {
  tone.unlock();
}

// `tone` false: the text explains an alert already sounded.
function showAlert(text, urgent, tone = true) {
  $("alert-text").textContent = text;
  $("alert").hidden = false;
  announce(text, true);
  if (tone) beep(urgent);
}

async function logIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  unlockAudio();
  try {
    const answer = await api("/api/v1/session", {
      method: "POST",
      body: JSON.stringify({ username: $("username").value, password: $("password").value }),
    });
    await start(answer.user);
  } catch (error) {
    $("login-error").textContent = error.status === 401 ? t("wrong_login") : error.message;
  }
}

async function start(user) {
  if (user.role !== "officer" || !user.unit_id) {
    $("login-error").textContent = t("not_officer");
    return;
  }
  state.user = user;
  $("login").hidden = true;
  $("terminal").hidden = false;
  await orderMap.setUp();
  await refresh();
  state.known = new Set(state.order ? [state.order.assignment.id] : []);
  connect();
  sendPositions();
}

async function logOut() {
  await api("/api/v1/session", { method: "DELETE" }).catch(() => null);
  if (state.watch !== null) navigator.geolocation.clearWatch(state.watch);
  if (state.socket) state.socket.close();
  location.reload();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream?after=${state.lastEvent}`);
  state.socket = socket;
  socket.onopen = () => { setLink(true); flushOutbox(); };
  socket.onmessage = async (message) => {
    const envelope = JSON.parse(message.data);
    // The resume cursor is the horizon the server promised (every event below it was sent).
    if (envelope.horizon != null) state.lastEvent = Math.max(state.lastEvent, envelope.horizon);
    const escalation = escalationOfMyOrder(envelope);
    if (escalation) {
      // The cause (incident.escalated) follows the priority change: it explains the alert, no new tone.
      const data = envelope.data;
      const why = data.cause === "dispatcher" && data.reason ? data.reason : data.cause ? label("EscalationCause", data.cause) : "";
      const text = `${t("escalated")}${why ? ` ${why}` : ""}`;
      if (escalation === "new" || why) showAlert(text, true, escalation === "new");
    }
    if (envelope.type === "incident.note_added" && state.order && envelope.data.incident_id === state.order.incident.id) {
      showAlert(`${t("new_note")}: ${envelope.data.text}`, false);
    }
    if (REFRESH_ON.has(envelope.type)) await refresh();
  };
  socket.onclose = () => {
    setLink(false);
    if (state.user) setTimeout(connect, 2000);
  };
}

// incident.escalated (lifecycle) or, before it lands, a priority change to code 0 on my incident:
// "new" for an alert, "again" for the second event of the same escalation, else false.
const alerted = new Map();
function escalationOfMyOrder(envelope) {
  const order = state.order;
  if (!order || envelope.data.incident_id !== order.incident.id) return false;
  const escalation = envelope.type === "incident.escalated" || (envelope.type === "incident.priority_changed" && Number(envelope.data.to) === 0);
  if (!escalation) return false;
  const last = alerted.get(order.incident.id) ?? 0;
  alerted.set(order.incident.id, Date.now());
  return Date.now() - last > 3000 ? "new" : "again";
}

function setLink(up) {
  $("link").className = `link ${up ? "up" : "down"}`;
  $("link").dataset.t = up ? "online" : "offline";
  $("link").textContent = t($("link").dataset.t);
}

async function refresh() {
  const unitId = state.user.unit_id;
  const orders = await api(`/api/v1/units/${unitId}/orders`);
  const previous = state.order;
  state.order = orders[0] || null;
  if (state.order) {
    state.unit = state.order.unit;
    const remaining = state.order.assignment.ack_remaining_s;
    state.dueAt = remaining === null ? null : Date.now() + remaining * 1000;
    if (!state.known.has(state.order.assignment.id)) {
      state.known.add(state.order.assignment.id);
      showAlert(t("new_order"), order_is_urgent());
    }
    await orderMap.draw(state.order);
    await loadNotes();
  } else {
    state.unit = (await api("/api/v1/units")).find((u) => u.id === unitId) || state.unit;
    state.dueAt = null;
    if (previous) orderMap.clear();
  }
  render();
}

// The dispatcher's notes on the ordered incident (its timeline; the crew may read it).
async function loadNotes() {
  const incidentId = state.order.incident.id;
  const detail = await api(`/api/v1/incidents/${incidentId}`).catch(() => null);
  if (!detail || !state.order || state.order.incident.id !== incidentId) return;
  const notes = detail.timeline.filter((e) => e.kind === "note_added");
  $("notes-box").hidden = notes.length === 0;
  $("notes").replaceChildren(...notes.map((n) => {
    const item = document.createElement("li");
    item.textContent = `${new Date(n.at).toLocaleTimeString(currentLang())} ${n.data.text}`;
    item.dataset.raw = "";
    return item;
  }));
}

function order_is_urgent() {
  return state.order && state.order.incident.priority === 0;
}

function render() {
  if (!state.user) return;
  $("unit-label").textContent = state.unit ? state.unit.call_sign : "";
  $("unit-status").textContent = state.unit ? label("UnitStatus", state.unit.status) : "";
  const order = state.order;
  $("order").hidden = !order;
  if (!order) $("notes-box").hidden = true;
  $("no-order").hidden = Boolean(order);
  if (!order) return;
  const { assignment, incident, person } = order;
  $("priority").textContent = currentLang() === "ko" ? `코드 ${incident.priority}` : `code ${incident.priority}`;
  $("priority").className = `priority badge code-${incident.priority}`;
  if (person) {
    $("person-name").textContent = person.name;
    $("person-detail").textContent = `${person.birth_year}${currentLang() === "ko" ? t("born") : ` (${t("born")})`} · ${person.school}`;
    $("person-notes").textContent = person.notes;
    $("initials").textContent = person.name.slice(0, 1);
    $("photo").hidden = !person.photo_url;
    $("initials").hidden = Boolean(person.photo_url);
    if (person.photo_url) $("photo").src = person.photo_url;
  } else {
    $("person-name").textContent = t("unknown_caller");
    $("person-detail").textContent = incident.caller_number || "";
    $("person-notes").textContent = "";
    $("initials").textContent = "?";
    $("photo").hidden = true;
    $("initials").hidden = false;
  }
  const where = incident.location;
  $("location").textContent = where
    ? `${where.lat.toFixed(5)}, ${where.lon.toFixed(5)} · ${t("radius")} ±${Math.round(uncertaintyNow(where).radius_m)} m · ${t(where.method)}`
    : "";
  // Street, 동 and nearest landmark (the server's offline place describer).
  $("place").textContent = incident.place ? incident.place[currentLang() === "ko" ? "ko" : "en"] : "";
  const open = assignment.state;
  $("ack").disabled = open !== "ordered";
  $("decline").disabled = open !== "ordered";
  $("en-route").disabled = !["ordered", "acknowledged"].includes(open);
  $("on-scene").disabled = !["ordered", "acknowledged", "en_route"].includes(open);
  $("clear").disabled = !["acknowledged", "en_route", "on_scene"].includes(open);
  const waiting = readOutbox();
  $("order-state").textContent = label("AssignmentState", open);
  $("pending").textContent = waiting.length ? `${t("pending")}: ${waiting.map((w) => t(w.label)).join(" → ")}` : "";
  tick();
}

function tick() {
  if (!state.order) return;
  if (state.dueAt === null) {
    $("countdown").textContent = state.order.assignment.acknowledged_at ? `✓ ${t("acknowledged")}` : "";
    return;
  }
  const left = Math.round((state.dueAt - Date.now()) / 1000);
  $("countdown").textContent = left >= 0 ? `${t("ack_in")} ${left} s` : t("ack_overdue");
}

// The order's location and route (mdt/map.js).
const orderMap = createOrderMap({ api, t });

// Changes made while the network is away wait in mdt/outbox.js and leave in order.
const outbox = createOutbox({
  post: (change) => api(change.path, { method: "POST", body: change.body }),
  changed: () => render(),
  sent: () => refresh(),
  refused: (change, error) => {
    // The server refused it (the order moved on while we were away): say so.
    $("order-state").textContent = change.kind === "ack" && error.status === 409 ? t("order_moved") : `${t(change.label)}: ${error.message}`;
    if (change.kind === "ack") $("order-state").className = "state moved";
  },
});
const readOutbox = () => outbox.waiting();
const send = (change) => outbox.send(change);
const flushOutbox = () => (state.user ? outbox.flush() : null);

async function status(value) {
  $("alert").hidden = true;
  await send({ kind: "status", label: value, path: `/api/v1/units/${state.user.unit_id}/status`, body: JSON.stringify({ status: value }) });
}

async function acknowledge() {
  $("alert").hidden = true;
  await send({ kind: "ack", label: "acknowledged", path: `/api/v1/assignments/${state.order.assignment.id}/acknowledge` });
}

async function decline() {
  await api(`/api/v1/assignments/${state.order.assignment.id}/decline`, { method: "POST" });
  $("alert").hidden = true;
  await refresh();
}

function sendPositions() {
  if (!navigator.geolocation) {
    $("position-state").textContent = t("gps_off");
    return;
  }
  state.watch = navigator.geolocation.watchPosition(
    async (fix) => {
      const now = Date.now();
      if (now - state.lastPositionAt < POSITION_EVERY_MS) return;
      state.lastPositionAt = now;
      try {
        await api(`/api/v1/units/${state.user.unit_id}/position`, {
          method: "POST",
          body: JSON.stringify({ lat: fix.coords.latitude, lon: fix.coords.longitude }),
        });
        $("position-state").textContent = `· ${t("gps_on")}`;
      } catch (error) {
        $("position-state").textContent = `· ${t("gps_off")}: ${error.message}`;
      }
    },
    () => { $("position-state").textContent = `· ${t("gps_off")}`; },
    { enableHighAccuracy: true, maximumAge: 5000 },
  );
}

function guard(action) {
  return () => action().catch((error) => { $("order-state").textContent = error.message; });
}

document.addEventListener("click", unlockAudio);
$("login").addEventListener("submit", logIn);
$("logout").addEventListener("click", logOut);
langToggle($("lang"), applyLanguage);
$("ack").addEventListener("click", guard(acknowledge));
$("alert-ok").addEventListener("click", () => { $("alert").hidden = true; });
window.addEventListener("online", () => flushOutbox());
$("decline").addEventListener("click", guard(decline));
$("en-route").addEventListener("click", guard(() => status("en_route")));
$("on-scene").addEventListener("click", guard(() => status("on_scene")));
$("clear").addEventListener("click", guard(() => status("available")));
setInterval(tick, 1000);
applyLanguage();
api("/api/v1/session").then(start).catch(() => null);
