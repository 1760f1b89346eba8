// The 112 situation board: live queue, map and detail, driven by the event stream.
import { api, openStream } from "../common/api.js";
import { ago, currentLang, langToggle, t, translatePage } from "../common/i18n.js";
import { renderDetail, describeLocation } from "./detail.js";
import { channelLabel, codeLabel, statusLabel } from "./labels.js";
import { createMap } from "./map.js";

const state = { incidents: [], units: [], selected: null };
let boardRef = null;
const queue = document.getElementById("queue");
const detailPanel = document.getElementById("detail");

async function main() {
  translatePage();
  const [me, config] = await Promise.all([api("/api/v1/session"), api("/config.json")]);
  document.getElementById("me").textContent = `${me.display_name} (${me.role})`;
  document.getElementById("logout").addEventListener("click", async () => {
    await api("/api/v1/session", { method: "DELETE" });
    location.assign("/login");
  });
  const board = createMap(document.getElementById("map"), config, select);
  boardRef = board;
  const ctx = { api, t, get lang() { return currentLang(); }, map: board.map, refresh: () => refresh(board, true) };
  state.ctx = ctx;
  langToggle(document.getElementById("lang"), () => refresh(board, true));
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
  setInterval(() => renderQueue(), 5000);
}

let refreshTimer = null;
function onEvent(board, event) {
  // A position report carries the position: move the marker, no reload (a live city sends many).
  if (event.type === "unit.moved") {
    board.moveUnit(event.data.unit_id, event.data.lat, event.data.lon);
    return;
  }
  if (event.type === "incident.received") showProvisionally(board, event);
  if (event.type === "unit.status_changed") refreshUnits(board);
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh(board, event.incident_id === state.selected), 60);
}

// A new SOS is drawn from the event itself at once; the REST refresh that follows fills in the person.
function showProvisionally(board, event) {
  const data = event.data;
  if (state.incidents.some((incident) => incident.id === data.incident_id)) return;
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
  };
  state.incidents.push(incident);
  board.showIncident(incident, false);
  renderQueue();
}

async function refreshUnits(board) {
  state.units = await api("/api/v1/units");
  for (const unit of state.units) board.showUnit(unit);
}

async function refresh(board, withDetail) {
  const [incidents] = await Promise.all([api("/api/v1/incidents?active=true"), refreshUnits(board)]);
  state.incidents = incidents;
  board.forgetIncidentsExcept(new Set(incidents.map((i) => i.id)));
  for (const incident of incidents) board.showIncident(incident, incident.id === state.selected);
  renderQueue();
  if (withDetail && state.selected) await renderDetail(detailPanel, state.selected, state.ctx);
}

function renderQueue() {
  document.getElementById("queue-count").textContent = `(${state.incidents.length})`;
  queue.replaceChildren(
    ...state.incidents
      .slice()
      .sort((a, b) => a.priority - b.priority || Date.parse(b.received_at) - Date.parse(a.received_at))
      .map((incident) => {
        const item = document.createElement("li");
        item.className = `code-${incident.priority}${incident.id === state.selected ? " selected" : ""}`;
        item.dataset.testid = "queue-item";
        item.dataset.incidentId = incident.id;
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
        line.textContent = `${statusLabel(incident.status)} · ${channelLabel(incident.channel)} · ${ago(incident.received_at)}`;
        const where = document.createElement("div");
        where.className = "muted";
        where.textContent = describeLocation(incident.location);
        item.append(head, line, where);
        if (incident.place) {
          const place = document.createElement("div");
          place.className = "muted place-description";
          place.textContent = t(incident.place.ko, incident.place.en);
          item.append(place);
        }
        item.addEventListener("click", () => select(incident.id));
        return item;
      }),
  );
}

function badge(kind, text) {
  const span = document.createElement("span");
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

async function select(incidentId) {
  state.selected = incidentId;
  renderQueue();
  const incident = state.incidents.find((i) => i.id === incidentId);
  if (incident && boardRef) boardRef.focus(incident);
  await renderDetail(detailPanel, incidentId, state.ctx);
}

main().catch((failure) => {
  detailPanel.textContent = `${t("상황판을 열 수 없습니다", "Cannot open the board")}: ${failure.message}`;
});
