// CCTV control center console: incidents of the operator's district, cameras with view cones, actions.
import { createBaseMap, L } from "/static/common/basemap.js";
import { currentLang, langToggle, t, translatePage } from "/static/common/i18n.js";
import { label, uncertaintyNow } from "/static/common/labels.js";
import { applyTheme, themeToggle } from "/static/common/ui.js";

const POLL_MS = 3000;
const state = { incidentId: null, locationKey: null, map: null, layers: null, detail: null };
const $ = (id) => document.getElementById(id);

function csrf() {
  const match = document.cookie.match(/(?:^|; )ansim_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf(), ...(options.headers || {}) };
  const answer = await fetch(path, { credentials: "same-origin", ...options, headers });
  const body = answer.status === 204 ? null : await answer.json().catch(() => null);
  if (!answer.ok) {
    const error = new Error((body && typeof body.detail === "string" && body.detail) || `HTTP ${answer.status}`);
    error.status = answer.status;
    throw error;
  }
  return body;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function applyLanguage() {
  translatePage();
  document.title = `${t("CCTV 관제센터", "CCTV control center")} · ansim`;
}

const statusWord = (s) => label("IncidentStatus", s);
applyTheme();
const time = (iso) => new Date(iso).toLocaleTimeString(currentLang() === "ko" ? "ko-KR" : "en-GB");

async function start() {
  applyLanguage();
  const themeLabel = themeToggle($("theme"), t);
  langToggle($("lang"), () => {
    applyLanguage();
    themeLabel();
    showWho();
    refresh(true);
  });
  $("login").addEventListener("submit", logIn);
  $("logout").addEventListener("click", async () => {
    await api("/api/v1/session", { method: "DELETE" }).catch(() => null);
    location.reload();
  });
  try {
    await showConsole(await api("/api/v1/cctv/me"));
  } catch (error) {
    $("login").hidden = false;
  }
}

async function logIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("/api/v1/session", { method: "POST", body: JSON.stringify({ username: $("username").value, password: $("password").value }) });
    await showConsole(await api("/api/v1/cctv/me"));
  } catch (error) {
    $("login-error").textContent = error.status === 403 ? t("CCTV 관제 권한이 없습니다", "this account has no CCTV console") : t("아이디 또는 비밀번호가 틀립니다", "wrong user name or password");
  }
}

async function showConsole(me) {
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
  state.me = me;
  showWho();
  const config = await api("/config.json").catch(() => ({}));
  state.map = createBaseMap($("map"), config).map;
  state.layers = L.layerGroup().addTo(state.map);
  await refresh(true);
  setInterval(() => refresh(false), POLL_MS);
}

function showWho() {
  if (!state.me) return;
  $("who").textContent = `${state.me.display_name} · ${state.me.gu || t("전체", "whole city")}`;
}

async function refresh(force) {
  if (!state.map) return;
  let incidents;
  try {
    incidents = await api("/api/v1/cctv/incidents");
  } catch (error) {
    $("area-note").textContent = error.message;
    return;
  }
  const note = state.me.role === "cctv_operator" && !state.me.gu ? t("배정된 관할 구가 없습니다", "no district assigned to you") : incidents.length ? "" : t("관할 구역에 진행 중인 사건이 없습니다", "no active incident in your area");
  $("area-note").textContent = note;
  $("area-note").className = note ? "empty" : "note";
  renderIncidents(incidents);
  const current = incidents.find((i) => i.id === state.incidentId);
  if (!current) {
    if (state.incidentId) clearSelection(t("사건이 종료되었거나 관할 밖입니다", "the incident ended or left your area"));
    return;
  }
  // The estimate moved (or the operator asked): select again; otherwise keep the view steady.
  const key = `${current.lat},${current.lon},${current.radius_m}`;
  if (force || key !== state.locationKey) await openIncident(current.id, key);
}

function renderIncidents(incidents) {
  const list = $("incidents");
  list.replaceChildren(
    ...incidents.map((i) =>
      el("li", { class: i.id === state.incidentId ? "selected" : "", "data-id": i.id, tabindex: "0",
        onclick: () => openIncident(i.id, `${i.lat},${i.lon},${i.radius_m}`),
        onkeydown: (key) => { if (key.key === "Enter" || key.key === " ") { key.preventDefault(); openIncident(i.id, `${i.lat},${i.lon},${i.radius_m}`); } } },
        el("span", { class: `badge code-${i.priority}` }, `${t("코드", "code")} ${i.priority}`), ` ${statusWord(i.status)} · ${time(i.received_at)}`,
        el("br"), `±${Math.round(radiusNow(i))} m ${i.location_method ? label("FixMethod", i.location_method) : ""}${i.drill ? t(" (훈련)", " (drill)") : ""}`)
    )
  );
}

// The same uncertainty figure as the board: the radius grown to now since the estimate.
function radiusNow(i) {
  if (!i.located_at) return i.radius_m;
  return uncertaintyNow({ radius_m: i.radius_m, area_m2: i.area_m2, growth_mps: i.growth_mps, located_at: i.located_at }).radius_m;
}

function clearSelection(message) {
  state.incidentId = null;
  state.locationKey = null;
  state.layers.clearLayers();
  $("cameras").replaceChildren();
  $("marks").replaceChildren();
  $("live").hidden = true;
  $("selection-note").textContent = message;
}

async function openIncident(id, key) {
  let detail;
  try {
    detail = await api(`/api/v1/cctv/incidents/${encodeURIComponent(id)}`);
  } catch (error) {
    clearSelection(error.message);
    return;
  }
  state.incidentId = id;
  state.locationKey = key;
  state.detail = detail;
  for (const li of $("incidents").children) li.classList.toggle("selected", li.dataset.id === id);
  drawMap(detail);
  renderCameras(detail);
  renderMarks(detail.marks);
}

function cone(camera) {
  if (camera.bearing_deg === null || camera.fov_deg >= 360) return L.circle([camera.lat, camera.lon], { radius: camera.range_m, color: "#2563eb", weight: 1, fillOpacity: 0.08 });
  const points = [[camera.lat, camera.lon]];
  const half = camera.fov_deg / 2;
  for (let a = camera.bearing_deg - half; a <= camera.bearing_deg + half + 0.01; a += camera.fov_deg / 12) {
    const rad = (a * Math.PI) / 180;
    const north = camera.range_m * Math.cos(rad), east = camera.range_m * Math.sin(rad);
    points.push([camera.lat + north / 111195, camera.lon + east / (111195 * Math.cos((camera.lat * Math.PI) / 180))]);
  }
  return L.polygon(points, { color: "#2563eb", weight: 1, fillOpacity: 0.12 });
}

function drawMap(detail) {
  const { incident, cameras, marks } = detail;
  state.layers.clearLayers();
  const area = L.circle([incident.lat, incident.lon], { radius: Math.max(incident.radius_m, 5), color: "#c0392b", weight: 2, fillOpacity: 0.1 }).addTo(state.layers);
  L.circleMarker([incident.lat, incident.lon], { radius: 5, color: "#c0392b", fillOpacity: 1 }).addTo(state.layers);
  cameras.forEach((camera, n) => {
    cone(camera).addTo(state.layers);
    L.marker([camera.lat, camera.lon], { icon: L.divIcon({ className: "cam-label", html: String(n + 1), iconSize: [20, 16] }), title: camera.label }).addTo(state.layers);
  });
  for (const mark of marks.filter((m) => m.kind === "person_seen")) {
    L.circleMarker([mark.data.lat, mark.data.lon], { radius: 9, color: "#f59e0b", weight: 3, fill: false }).bindTooltip(t("대상자 발견", "person seen")).addTo(state.layers);
  }
  state.map.fitBounds(area.getBounds().pad(cameras.length ? 0.6 : 0.2));
}

function renderCameras(detail) {
  const { cameras } = detail;
  $("selection-note").textContent = cameras.length ? t(`추정 위치(95 %)를 볼 수 있는 카메라 ${cameras.length}대, 커버 비율순`, `${cameras.length} cameras can see the 95 % area, best coverage first`) : t("추정 위치를 볼 수 있는 카메라가 없습니다", "no camera covers the estimated area");
  $("cameras").replaceChildren(...cameras.map((camera, n) => cameraItem(camera, n + 1)));
}

function cameraItem(camera, number) {
  const status = el("div", { class: "status", role: "status" });
  const item = el("li", { "data-camera": camera.id },
    el("div", { class: "name" }, `${number}. ${camera.label}`),
    el("div", { class: "facts" }, `${t("커버", "covers")} ${(camera.share * 100).toFixed(1)} % · ${Math.round(camera.distance_m)} m · ${camera.ptz ? "PTZ" : t("고정", "fixed")} · `,
      // The camera register's own purpose words (data-raw: as the city recorded them).
      el("span", { "data-raw": "" }, camera.purpose || "")),
  );
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", class: "live-view", onclick: () => openLive(camera, status) }, t("실시간 영상", "Live view")),
  );
  if (camera.steerable) actions.append(el("button", { type: "button", class: "aim", onclick: () => aim(camera, status) }, t("방향 전환", "Aim")));
  actions.append(
    el("button", { type: "button", class: "seen", onclick: () => markSeen(camera, number, status) }, t(`${number}번 카메라에서 발견`, `Person seen on camera ${number}`)),
    el("button", { type: "button", class: "clip", onclick: () => requestClip(camera, status) }, t("영상 보존 요청", "Request clip")),
  );
  item.append(actions, status);
  return item;
}

function say(status, text, good) {
  status.textContent = text;
  status.className = `status ${good ? "good" : "bad"}`;
}

async function openLive(camera, status) {
  try {
    const live = await api(`/api/v1/cctv/incidents/${state.incidentId}/cameras/${camera.id}/live`, { method: "POST" });
    const box = $("live");
    box.hidden = false;
    if (live.stream_url) {
      box.replaceChildren(`${camera.label}: `, el("a", { href: live.stream_url, target: "_blank", rel: "noopener" }, live.stream_url));
      say(status, t("실시간 영상 주소를 열었습니다", "live view opened"), true);
    } else {
      box.replaceChildren(t(`${camera.label}: 등록된 영상 주소가 없습니다`, `${camera.label}: no stream address registered`));
      say(status, t("영상 주소 없음", "no stream address"), false);
    }
  } catch (error) {
    say(status, error.message, false);
  }
}

async function aim(camera, status) {
  say(status, t("카메라에 명령 전송 중…", "sending command to the camera…"), true);
  try {
    const result = await api(`/api/v1/cctv/incidents/${state.incidentId}/cameras/${camera.id}/aim`, { method: "POST", body: "{}" });
    if (result.status === "unreachable") say(status, t(`카메라 응답 없음: ${result.message}`, `camera unreachable: ${result.message}`), false);
    else say(status, t(`방향 전환 완료 (방위 ${Math.round(result.bearing_deg)}°, ${Math.round(result.distance_m)} m), 녹화 북마크 시작`, `aimed (bearing ${Math.round(result.bearing_deg)}°, ${Math.round(result.distance_m)} m), recording bookmark started`), true);
  } catch (error) {
    say(status, error.message, false);
  }
}

async function markSeen(camera, number, status) {
  try {
    await api(`/api/v1/cctv/incidents/${state.incidentId}/sightings`, { method: "POST", body: JSON.stringify({ camera_id: camera.id, note: t(`${number}번 카메라`, `camera ${number}`) }) });
    say(status, t("상황실에 발견 표시를 보냈습니다", "sighting sent to the situation board"), true);
    await openIncident(state.incidentId, state.locationKey);
  } catch (error) {
    say(status, error.message, false);
  }
}

async function requestClip(camera, status) {
  try {
    const clip = await api(`/api/v1/cctv/incidents/${state.incidentId}/clips`, { method: "POST", body: JSON.stringify({ camera_id: camera.id }) });
    say(status, t(`영상 보존 요청됨 (${time(clip.data.start)}–${time(clip.data.end)})`, `clip requested (${time(clip.data.start)}–${time(clip.data.end)})`), true);
    await openIncident(state.incidentId, state.locationKey);
  } catch (error) {
    say(status, error.message, false);
  }
}

const MARK_WORDS = { person_seen: ["대상자 발견", "person seen"], clip_requested: ["영상 보존 요청", "clip requested"], camera_aimed: ["카메라 방향 전환", "camera aimed"] };

function renderMarks(marks) {
  $("marks").replaceChildren(
    ...marks.slice().reverse().map((m) => {
      const failed = m.kind === "camera_aimed" && m.data.status === "unreachable";
      const word = failed ? t("카메라 응답 없음", "camera unreachable") : t(...MARK_WORDS[m.kind]);
      return el("li", { class: `mark ${m.kind}` }, `${time(m.at)} ${word} — ${m.data.camera_label || ""} (${m.actor})`);
    })
  );
}

start();
