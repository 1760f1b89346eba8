// The 112 situation board: live queue, map and detail, driven by the event stream.
// Alerts (tone + banner + aria-live) on every new SOS and every escalation; keyboard operation of the
// queue; filters and a surge banner. The queue order: waiting for a unit, then code, then oldest press.
import { api, openStream } from "../common/api.js";
import { ago, currentLang, langToggle, t, translatePage } from "../common/i18n.js";
import { LABELS, label } from "../common/labels.js";
import { alertTone, announce, applyTheme, themeToggle, toast } from "../common/ui.js";
import { districtOf } from "../common/basemap.js";
import { renderDetail, describeLocation, growDetailFigure } from "./detail.js";
import { channelLabel, codeLabel, roleLabel, statusLabel } from "./labels.js";
import { createMap } from "./map.js";

// A surge: this many incidents waiting for a unit at once puts the banner up.
const SURGE_AT = 5;
const state = { incidents: [], units: [], selected: null, districts: null, filters: { channel: "", status: "", district: "", drill: "" } };
let boardRef = null;
const queue = document.getElementById("queue");
const detailPanel = document.getElementById("detail");
applyTheme("dark");
const tone = alertTone("ansim.board.muted");
// The surge benchmark's measure (localStorage["ansim.perf"] = "1"): ms from a WebSocket message's
// arrival to the DOM update it causes, one entry per message (tests/test_consoles_surge.py).
const perf = localStorage.getItem("ansim.perf") === "1" ? [] : null;
window.ansimPerf = perf;
let waitingForDom = [];
const measured = (event) => {
  if (!perf || event.arrivedAt === undefined) return;
  const ms = performance.now() - event.arrivedAt;
  perf.push(ms);
  if (ms > 200) (window.ansimSlow ??= []).push(`${event.type} ${Math.round(ms)}`);
};

async function main() {
  translatePage();
  const [me, config] = await Promise.all([api("/api/v1/session"), api("/config.json")]);
  const showMe = () => { document.getElementById("me").textContent = `${me.display_name} (${roleLabel(me.role)})`; };
  showMe();
  document.getElementById("logout").addEventListener("click", async () => {
    await api("/api/v1/session", { method: "DELETE" });
    location.assign("/login");
  });
  const board = createMap(document.getElementById("map"), config, (id) => select(id, false));
  boardRef = board;
  board.area.then((found) => { state.districts = found; fillFilters(); renderQueue(); });
  const ctx = { api, t, get lang() { return currentLang(); }, map: board.map, refresh: () => refresh(board, true) };
  state.ctx = ctx;
  const themeLabel = themeToggle(document.getElementById("theme"), t);
  const muteLabel = setUpMute();
  langToggle(document.getElementById("lang"), () => { showMe(); themeLabel(); muteLabel(); fillFilters(); refresh(board, true); });
  setUpKeyboard();
  fillFilters();
  if (["supervisor", "admin"].includes(me.role)) startShiftFigures();
  document.getElementById("alert-ack").addEventListener("click", acknowledgeAlert);
  // Any first press (log-in happened on another page) lets the browser play the tone.
  document.addEventListener("pointerdown", () => tone.unlock(), { once: true });
  document.addEventListener("keydown", () => tone.unlock(), { once: true });
  await refresh(board, false);
  const live = document.getElementById("live");
  const stream = openStream(
    (event) => onEvent(board, event),
    (connected) => {
      live.className = `live ${connected ? "on" : "off"}`;
      live.dataset.ko = connected ? "실시간" : "연결 끊김";
      live.dataset.en = connected ? "live" : "offline";
      live.textContent = t(live.dataset.ko, live.dataset.en);
      if (connected) refresh(board, false);
    },
  );
  // -1: only events from now on; the REST snapshot taken on each (re)connect covers the rest.
  stream.start(-1);
  setInterval(() => { renderQueue(); board.growCircles(); growDetailFigure(); }, 5000);
}

function setUpMute() {
  const button = document.getElementById("mute");
  const draw = () => {
    button.setAttribute("aria-pressed", String(tone.muted));
    button.textContent = tone.muted ? t("소리 꺼짐 (이 콘솔)", "Muted (this console)") : t("소리 켜짐", "Sound on");
  };
  draw();
  button.addEventListener("click", () => { tone.muted = !tone.muted; tone.unlock(); draw(); });
  return draw;
}

// The supervisor's figures since the shift began (GET /api/v1/supervisor/shift), every 10 s.
function startShiftFigures() {
  const panel = document.getElementById("shift");
  panel.hidden = false;
  panel.open = true;
  const seconds = (spread) => spread.median_s === null ? "—" : t(`${Math.round(spread.median_s)}초 (90%: ${Math.round(spread.p90_s)}초) · ${spread.count}건`, `${Math.round(spread.median_s)} s (p90 ${Math.round(spread.p90_s)} s) · ${spread.count}`);
  const draw = async () => {
    const f = await api("/api/v1/supervisor/shift").catch(() => null);
    if (!f) return;
    const rows = [
      [t("교대 시각", "Shift began"), new Date(f.shift_started_at).toLocaleTimeString(currentLang())],
      [t("접수", "SOS received"), String(f.received)],
      ...Object.entries(f.open_by_code).map(([code, n]) => [t(`진행 중 · 코드 ${code}`, `open · code ${code}`), String(n)]),
      [t("접수 → 지령 (중앙값)", "press → order (median)"), seconds(f.press_to_order)],
      [t("지령 → 수신 확인 (중앙값)", "order → ack (median)"), seconds(f.order_to_ack)],
      ...Object.entries(f.verification_outcomes).map(([state, n]) => [label("VerificationState", state), String(n)]),
    ];
    document.getElementById("shift-figures").replaceChildren(...rows.flatMap(([name, value]) => [
      Object.assign(document.createElement("dt"), { textContent: name }),
      Object.assign(document.createElement("dd"), { textContent: value }),
    ]));
  };
  draw();
  setInterval(draw, 10000);
}

// Alerts: new SOS and every escalation. The banner stays until the dispatcher acknowledges it.
const pendingAlerts = [];
let lastAlertIncident = null;
function raiseAlert(text, urgent, incidentId = null) {
  pendingAlerts.push(text);
  lastAlertIncident = incidentId;
  tone.play(urgent);
  announce(text, true);
  showBanner(text);
}

// The latest alert, and how many more wait behind it.
function showBanner(text) {
  document.getElementById("alert-text").textContent = pendingAlerts.length > 1 ? `${text} (+${pendingAlerts.length - 1})` : text;
  document.getElementById("alert-banner").hidden = false;
}

function acknowledgeAlert() {
  pendingAlerts.length = 0;
  document.getElementById("alert-banner").hidden = true;
  queue.querySelector("li[tabindex='0']")?.focus();
}

// Why code 0, in the dispatcher's language: incident.escalated names its cause (a person's
// decision keeps the words they typed); the priority change that comes just before it says only
// that it happened (its reason may be the server's English).
function escalationText(data) {
  const typed = data.cause === "dispatcher" && data.reason;
  const why = typed ? data.reason : data.cause ? label("EscalationCause", data.cause) : "";
  return t(`코드 0 격상${why ? `: ${why}` : ""}`, `Escalated to code 0${why ? `: ${why}` : ""}`);
}

// The cause arrives a moment after the alert it explains: the banner says it, without a second tone.
function explainAlert(text, incidentId) {
  if (!pendingAlerts.length || lastAlertIncident !== incidentId) return;
  pendingAlerts[pendingAlerts.length - 1] = text;
  announce(text, true);
  showBanner(text);
}

let refreshTimer = null;
function onEvent(board, event) {
  // A position report carries the position: move the marker, no reload (a live city sends many).
  if (event.type === "unit.moved") {
    board.moveUnit(event.data.unit_id, event.data.lat, event.data.lon);
    const moved = state.units.find((u) => u.id === event.data.unit_id);
    if (moved) Object.assign(moved, { lat: event.data.lat, lon: event.data.lon });
    measured(event);
    return;
  }
  if (event.type === "incident.received") {
    const fresh = showProvisionally(board, event);
    measured(event);
    if (fresh) {
      const data = event.data;
      raiseAlert(t(`새 SOS: ${codeLabel(data.priority)} · ${channelLabel(data.channel)}${data.drill ? " (훈련)" : ""}`,
        `New SOS: ${codeLabel(data.priority)} · ${channelLabel(data.channel)}${data.drill ? " (drill)" : ""}`), data.priority === 0);
    }
  }
  // incident.escalated (lifecycle) carries the cause; before it lands, a priority change to code 0 says it.
  if (event.type === "incident.escalated" && escalatedRecently(event.data.incident_id)) {
    explainAlert(escalationText(event.data), event.data.incident_id);
  } else if (event.type === "incident.escalated") {
    raiseAlert(escalationText(event.data), true, event.data.incident_id);
    markEscalated(event.data.incident_id);
  } else if (event.type === "incident.priority_changed" && Number(event.data.to) === 0 && !escalatedRecently(event.data.incident_id)) {
    raiseAlert(escalationText(event.data), true, event.data.incident_id);
    markEscalated(event.data.incident_id);
  }
  // What the event itself says is drawn at once; the REST refresh that follows fills in the rest.
  if (applyFromEvent(board, event)) measured(event);
  else if (perf && event.type !== "incident.received") waitingForDom.push(event);
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh(board, event.incident_id === state.selected), 60);
}

// Status, code, position and unit status come in the event: no round trip before the queue shows them.
function applyFromEvent(board, event) {
  const data = event.data;
  if (event.type === "unit.status_changed") {
    const unit = state.units.find((u) => u.id === data.unit_id);
    if (!unit) return false;
    unit.status = data.status;
    board.showUnit(unit);
    return true;
  }
  const incident = state.incidents.find((i) => i.id === data.incident_id);
  if (!incident) return false;
  // A unit ordered: the incident no longer waits for one (the queue's first sort key).
  if (event.type === "unit.ordered") incident.waiting_for_units = Math.max(0, (incident.waiting_for_units ?? 1) - 1);
  else if (event.type === "incident.waiting_changed") incident.waiting_for_units = data.waiting_for_units;
  else if (event.type === "incident.priority_changed") incident.priority = Number(data.to);
  else if (event.type === "incident.escalated") Object.assign(incident, { priority: Number(data.priority ?? 0), waiting_for_units: data.waiting_for_units });
  else if (event.type === "incident.status_changed") incident.status = data.to;
  else if (event.type === "incident.located") incident.location = data.location;
  else return false;
  board.showIncident(incident, incident.id === state.selected);
  renderQueue();
  return true;
}

// One alert per escalation though both event kinds may arrive for it.
const escalated = new Map();
function markEscalated(id) { escalated.set(id, Date.now()); }
function escalatedRecently(id) { return Date.now() - (escalated.get(id) ?? 0) < 3000; }

// A new SOS is drawn from the event itself at once; the REST refresh that follows fills in the person.
function showProvisionally(board, event) {
  const data = event.data;
  if (state.incidents.some((incident) => incident.id === data.incident_id)) return false;
  const incident = {
    id: data.incident_id,
    channel: data.channel,
    status: data.status,
    priority: data.priority,
    received_at: data.received_at,
    subscriber_name: data.unknown_caller ? null : "…",
    location: data.location,
    drill: data.drill,
    duress: false,
    fresh: true,
  };
  state.incidents.push(incident);
  board.showIncident(incident, false);
  renderQueue();
  return true;
}

async function refreshUnits(board) {
  state.units = await api("/api/v1/units");
  for (const unit of state.units) board.showUnit(unit);
}

// Every open incident: the list is paged when the API pages it (items + next cursor).
async function openIncidents() {
  const first = await api("/api/v1/incidents?active=true");
  if (Array.isArray(first)) return first;
  const all = [...(first.items ?? first.incidents ?? [])];
  let cursor = first.next_cursor ?? first.cursor ?? null;
  while (cursor) {
    const page = await api(`/api/v1/incidents?active=true&cursor=${encodeURIComponent(cursor)}`);
    all.push(...(page.items ?? page.incidents ?? []));
    cursor = page.next_cursor ?? page.cursor ?? null;
  }
  return all;
}

async function refresh(board, withDetail) {
  const begun = performance.now();
  const [incidents] = await Promise.all([openIncidents(), refreshUnits(board)]);
  if (perf) (window.ansimFetch ??= []).push(performance.now() - begun);
  const fresh = new Set(state.incidents.filter((i) => i.fresh).map((i) => i.id));
  for (const incident of incidents) if (fresh.has(incident.id)) incident.fresh = true;
  state.incidents = incidents;
  board.forgetIncidentsExcept(new Set(incidents.map((i) => i.id)));
  for (const incident of incidents) board.showIncident(incident, incident.id === state.selected);
  renderQueue();
  if (perf) { for (const event of waitingForDom) measured(event); waitingForDom = []; }
  if (withDetail && state.selected) await renderDetail(detailPanel, state.selected, state.ctx);
}

// Waiting for a unit: units the dispatch policy still asks for (the lifecycle's count), else none ordered yet.
function waiting(incident) {
  if (typeof incident.waiting_for_units === "number") return incident.waiting_for_units > 0;
  return incident.status === "received";
}

function districtName(incident) {
  if (!incident.location || !state.districts) return null;
  return districtOf(state.districts, incident.location.lat, incident.location.lon);
}

function passes(incident) {
  const f = state.filters;
  if (f.channel && incident.channel !== f.channel) return false;
  if (f.status && incident.status !== f.status) return false;
  if (f.drill === "real" && incident.drill) return false;
  if (f.drill === "drill" && !incident.drill) return false;
  if (f.district && districtName(incident)?.code !== f.district) return false;
  return true;
}

function fillFilters() {
  const options = (select, pairs) => {
    const keep = select.value;
    select.replaceChildren(...pairs.map(([value, text]) => Object.assign(document.createElement("option"), { value, textContent: text })));
    select.value = pairs.some(([value]) => value === keep) ? keep : "";
  };
  const every = t("전체", "all");
  options(document.getElementById("filter-channel"), [["", every], ...Object.keys(LABELS.Channel).map((c) => [c, channelLabel(c)])]);
  options(document.getElementById("filter-status"), [["", every], ...["received", "dispatched", "verifying", "confirmed", "false_alarm", "cancelled", "on_scene"].map((s) => [s, statusLabel(s)])]);
  options(document.getElementById("filter-district"), [["", every], ...(state.districts?.features ?? []).map((f) => [f.properties.code, currentLang() === "ko" ? f.properties.name_ko : f.properties.name_en])]);
  options(document.getElementById("filter-drill"), [["", every], ["real", t("실제 신고만", "real only")], ["drill", t("훈련만", "drills only")]]);
}

function byUrgency(a, b) {
  return Number(waiting(b)) - Number(waiting(a)) || a.priority - b.priority || Date.parse(a.received_at) - Date.parse(b.received_at);
}

function renderQueue() {
  const focusedId = document.activeElement?.closest?.("#queue li")?.dataset.incidentId ?? null;
  const shown = state.incidents.filter(passes).sort(byUrgency);
  const waitingCount = state.incidents.filter(waiting).length;
  document.getElementById("queue-count").textContent = shown.length === state.incidents.length ? `(${shown.length})` : `(${shown.length} / ${state.incidents.length})`;
  const surge = document.getElementById("surge");
  surge.hidden = waitingCount < SURGE_AT;
  surge.textContent = t(`대량 신고: 출동 대기 ${waitingCount}건`, `Surge: ${waitingCount} incidents waiting for a unit`);
  const rovingId = shown.some((i) => i.id === (focusedId ?? state.selected)) ? (focusedId ?? state.selected) : shown[0]?.id;
  queue.replaceChildren(...shown.map((incident) => queueItem(incident, incident.id === rovingId)));
  if (focusedId) queue.querySelector(`li[data-incident-id="${CSS.escape(focusedId)}"]`)?.focus();
}

function queueItem(incident, roving) {
  const item = document.createElement("li");
  item.className = `code-${incident.priority}${waiting(incident) ? " waiting" : ""}${incident.fresh ? " fresh" : ""}`;
  item.dataset.testid = "queue-item";
  item.dataset.incidentId = incident.id;
  item.setAttribute("role", "option");
  item.setAttribute("aria-selected", String(incident.id === state.selected));
  item.tabIndex = roving ? 0 : -1;
  const head = document.createElement("div");
  head.className = "row";
  head.append(badge(`code-${incident.priority}`, codeLabel(incident.priority)));
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = incident.subscriber_name ?? t("미등록 발신자", "unknown caller");
  head.append(who);
  if (incident.drill) head.append(badge("drill", t("훈련", "DRILL")));
  if (incident.duress) head.append(badge("duress", t("강압 취소", "DURESS")));
  const line = document.createElement("div");
  line.className = "muted";
  if (waiting(incident)) {
    const wait = document.createElement("span");
    wait.className = "wait";
    wait.textContent = t("출동 대기", "waiting for a unit");
    line.append(wait, " · ");
  }
  line.append(`${statusLabel(incident.status)} · ${channelLabel(incident.channel)} · ${ago(incident.received_at)}`);
  const where = document.createElement("div");
  where.className = "muted";
  where.textContent = describeLocation(incident.location);
  item.append(head, line, where);
  if (incident.place) {
    const place = document.createElement("div");
    place.className = "place-description muted";
    place.textContent = typeof incident.place === "string" ? incident.place : (incident.place[currentLang()] ?? incident.place.description ?? "");
    item.append(place);
  }
  item.addEventListener("click", () => select(incident.id, false));
  return item;
}

// Queue keys: ↑/↓/Home/End move, Enter or Space opens the incident and moves into its detail.
function setUpKeyboard() {
  queue.addEventListener("keydown", (key) => {
    const items = [...queue.querySelectorAll("li")];
    const at = items.indexOf(document.activeElement);
    let next = null;
    if (key.key === "ArrowDown") next = items[Math.min(items.length - 1, at + 1)];
    else if (key.key === "ArrowUp") next = items[Math.max(0, at - 1)];
    else if (key.key === "Home") next = items[0];
    else if (key.key === "End") next = items[items.length - 1];
    else if ((key.key === "Enter" || key.key === " ") && at >= 0) {
      key.preventDefault();
      select(items[at].dataset.incidentId, true);
      return;
    } else return;
    key.preventDefault();
    if (!next) return;
    for (const item of items) item.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });
  // The skip link and the queue itself hand the focus to the current item.
  queue.addEventListener("focus", () => queue.querySelector("li[tabindex='0']")?.focus());
  document.addEventListener("keydown", (key) => {
    if (key.key === "Escape" && !document.getElementById("alert-banner").hidden) acknowledgeAlert();
  });
}

function badge(kind, text) {
  const span = document.createElement("span");
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

async function select(incidentId, fromKeyboard) {
  state.selected = incidentId;
  const incident = state.incidents.find((i) => i.id === incidentId);
  if (incident) incident.fresh = false;
  renderQueue();
  if (incident && boardRef) boardRef.focus(incident);
  try {
    await renderDetail(detailPanel, incidentId, state.ctx);
  } catch (failure) {
    toast(`${t("신고를 열 수 없습니다", "Cannot open the incident")}: ${failure.message}`, "bad");
    return;
  }
  if (fromKeyboard) document.getElementById("detail-title")?.focus();
  announce(t(`${statusLabel(incident?.status ?? "received")} 신고를 열었습니다`, `Opened the ${statusLabel(incident?.status ?? "received")} incident`));
}

main().catch((failure) => {
  detailPanel.textContent = `${t("상황판을 열 수 없습니다", "Cannot open the board")}: ${failure.message}`;
});

