// The incident detail panel: who, where, status, units, guardians, timeline — then extra sections.
import { api } from "../common/api.js";
import { toast } from "../common/ui.js";
import { relationWord, uncertaintyNow } from "../common/labels.js";
import { ago, currentLang, t } from "../common/i18n.js";
import { assignmentLabel, channelLabel, codeLabel, describeEta, methodLabel, statusLabel, timelineLabel } from "./labels.js";
import { detailSections } from "./sections.js";

const NEXT_STATUSES = {
  received: ["verifying", "confirmed", "false_alarm"],
  dispatched: ["verifying", "confirmed", "false_alarm", "on_scene"],
  verifying: ["confirmed", "false_alarm", "on_scene"],
  confirmed: ["on_scene", "resolved"],
  false_alarm: ["confirmed", "resolved", "closed"],
  cancelled: ["confirmed", "resolved", "closed"],
  on_scene: ["confirmed", "resolved"],
  resolved: ["closed"],
  closed: [],
};

function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") element.className = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value);
  }
  // Any depth: a row is [dt, dd], and a list of rows (the devices) is a list of such pairs.
  for (const child of children.flat(Infinity)) if (child !== null && child !== undefined) element.append(child);
  return element;
}

// "Wi-Fi ±120 m, 40 s ago": the radius grown to now (common/labels.js), the same on queue, panel and map.
export function describeLocation(location) {
  if (!location) return t("위치 미상", "location unknown");
  const { radius_m } = uncertaintyNow(location);
  return `${methodLabel(location.method)} ±${Math.round(radius_m)} m, ${ago(location.located_at)}`;
}

// The detail's figure grows on the board's clock like the queue's (the location it was drawn from
// rides on the element).
export function growDetailFigure() {
  for (const line of document.querySelectorAll("[data-testid=uncertainty][data-location]")) {
    line.textContent = describeLocation(JSON.parse(line.dataset.location));
  }
}

// The place description (street, 동, nearest landmark) when the location service gives one.
function placeText(place) {
  if (typeof place === "string") return place;
  const words = place[currentLang()] ?? place.description ?? place.text;
  if (typeof words === "string") return words;
  return [place.street, place.dong, place.landmark].filter(Boolean).join(" · ");
}

// Dispatch takes two presses: the first asks to confirm (the focus stays on the button, so Enter
// twice from the keyboard dispatches), Escape or leaving the button cancels.
function dispatchButton(candidate, dispatch) {
  const ask = t("출동 지령", "Dispatch");
  const button = el("button", { type: "button", class: "primary", "data-unit": candidate.unit_id, "aria-label": `${ask}: ${candidate.call_sign}` }, ask);
  const reset = () => {
    delete button.dataset.confirming;
    button.textContent = ask;
    button.className = "primary";
    button.setAttribute("aria-label", `${ask}: ${candidate.call_sign}`);
  };
  button.addEventListener("click", () => {
    if (button.dataset.confirming) {
      reset();
      dispatch();
      return;
    }
    button.dataset.confirming = "1";
    button.className = "danger";
    button.textContent = t(`${candidate.call_sign} 출동 확인`, `Confirm: send ${candidate.call_sign}`);
    button.setAttribute("aria-label", button.textContent);
  });
  button.addEventListener("keydown", (key) => { if (key.key === "Escape") reset(); });
  button.addEventListener("blur", reset);
  return button;
}

function timelineTarget(entry) {
  const to = entry.data.to;
  if (to === undefined || to === null) return "";
  return ` → ${entry.kind === "priority_changed" ? codeLabel(to) : statusLabel(to)}`;
}

// Events can start a new drawing before the last one finished: only the newest may draw, or its
// sections would be appended twice.
let drawing = 0;

export async function renderDetail(container, incidentId, ctx) {
  const mine = ++drawing;
  const detail = await api(`/api/v1/incidents/${incidentId}`);
  if (mine !== drawing) return detail;
  const { incident, person } = detail;
  const age = person ? new Date().getFullYear() - person.birth_year : null;
  const act = (path, body) => async () => {
    try {
      await api(`/api/v1/incidents/${incident.id}/${path}`, { method: "POST", body });
      ctx.refresh();
    } catch (failure) {
      toast(failure.message, "bad");
    }
  };
  container.replaceChildren(
    el("h2", { tabindex: "-1", id: "detail-title" }, el("span", { class: `badge code-${incident.priority}` }, codeLabel(incident.priority)), " ",
      person ? person.name : t("미등록 발신자", "unknown caller"),
      incident.drill ? el("span", { class: "badge drill" }, t("훈련", "DRILL")) : null,
      incident.duress ? el("span", { class: "badge duress" }, t("강압 취소", "DURESS")) : null),
    el("section", { "data-testid": "who" },
      el("h3", {}, t("신고자", "Who")),
      person?.photo_url ? el("img", { class: "person-photo", src: person.photo_url, alt: person.name }) : null,
      el("dl", {},
        el("dt", {}, t("이름", "Name")), el("dd", {}, person ? person.name : t("미등록", "not registered")),
        person ? [el("dt", {}, t("나이", "Age")), el("dd", {}, t(`${age}세 (${person.birth_year}년생)`, `${age} (born ${person.birth_year})`))] : null,
        person?.school ? [el("dt", {}, t("학교", "School")), el("dd", {}, person.school)] : null,
        incident.caller_number ? [el("dt", {}, t("발신 번호", "Caller")), el("dd", {}, incident.caller_number)] : null,
        el("dt", {}, t("경로", "Channel")), el("dd", {}, channelLabel(incident.channel)),
        el("dt", {}, t("접수", "Received")), el("dd", {}, `${new Date(incident.received_at).toLocaleTimeString(currentLang())} (${ago(incident.received_at)})`),
        incident.sos_count > 1 ? [el("dt", {}, t("반복 신고", "Repeated")), el("dd", {}, `${incident.sos_count}×`)] : null,
        person?.notes ? [el("dt", {}, t("메모", "Notes")), el("dd", { "data-raw": "" }, person.notes)] : null,
        (person?.devices ?? []).map((device) => [
          el("dt", {}, t("단말기", "Device")),
          el("dd", { "data-testid": "device-health", class: device.lost || device.low_battery ? "warn" : "" },
            `${device.terminal_id} · ${t("배터리", "battery")} ${device.battery_pct ?? "?"}%`,
            device.low_battery ? ` · ${t("배터리 부족", "LOW BATTERY")}` : "",
            device.lost ? ` · ${t("연락 끊김", "LOST")}` : "",
            device.last_seen_at ? ` · ${t("마지막 수신", "last seen")} ${ago(device.last_seen_at)}` : ` · ${t("수신 없음", "never seen")}`),
        ]))),
    el("section", { "data-testid": "where" },
      el("h3", {}, t("위치", "Where")),
      el("p", { "data-testid": "uncertainty", "data-location": JSON.stringify(incident.location) }, describeLocation(incident.location)),
      incident.place ? el("p", { class: "place-description", "data-testid": "place" }, placeText(incident.place)) : null,
      detail.relocation ? el("p", { class: `relocation relocation-${detail.relocation.outcome}`, "data-testid": "relocation", title: detail.relocation.detail },
        detail.relocation.outcome === "located"
          ? t(`이동통신사 재측위 ${ago(detail.relocation.requested_at)}`, `re-located ${ago(detail.relocation.requested_at)}`)
          : t(`재측위 실패 (${ago(detail.relocation.requested_at)})`, `re-location failed (${ago(detail.relocation.requested_at)})`)) : null,
      incident.caller_number ? el("button", { type: "button", "data-testid": "relocate", onclick: act("relocate", {}) }, t("이동통신사 재측위", "Re-locate via carrier")) : null,
      incident.location ? el("p", { class: "muted" }, `${incident.location.lat.toFixed(5)}, ${incident.location.lon.toFixed(5)} · ${t("측위", "fixes")} ${detail.fixes.length}`) : null),
    el("section", {},
      el("h3", {}, `${t("상태", "Status")}: ${statusLabel(incident.status)}`),
      el("div", { class: "actions" },
        (NEXT_STATUSES[incident.status] ?? []).map((next) =>
          el("button", { type: "button", "data-status": next, onclick: act("status", { status: next, reason: t("상황판에서 변경", "changed on the board") }) }, statusLabel(next))),
        incident.priority > 0 ? el("button", { type: "button", class: "danger", onclick: act("priority", { priority: 0, reason: t("코드 0 격상", "raised to code 0") }) }, t("코드 0 격상", "Raise to code 0")) : null)),
    el("section", { "data-testid": "units" },
      el("h3", {}, t("출동 부대", "Units on it")),
      detail.assignments.length
        ? el("ul", {}, detail.assignments.map((a) => el("li", {}, `${a.call_sign} — ${assignmentLabel(a.state)}${a.arrived_at ? ` (${t("도착", "arrived")} ${ago(a.arrived_at)})` : ""}`)))
        : el("p", { class: "muted" }, t("없음", "none")),
      el("h3", {}, t("추천 부대 (도착 예상)", "Recommended units (ETA)")),
      detail.candidates.map((c) =>
        el("div", { class: "candidate" }, `${c.call_sign} · ${describeEta(c.eta_s)}`,
          dispatchButton(c, act("dispatch", { unit_id: c.unit_id }))))),
    el("section", { "data-testid": "guardians" },
      el("h3", {}, t("보호자", "Guardians")),
      detail.guardians.length
        ? el("ul", {}, detail.guardians.map((g) => el("li", {}, `${g.name} (${relationWord(g.relation)}) `, el("a", { href: `tel:${g.phone}` }, g.phone))))
        : el("p", { class: "muted" }, t("등록된 보호자 없음", "no guardian registered"))),
    el("section", { class: "timeline", "data-testid": "timeline" },
      el("h3", {}, t("경과", "Timeline")),
      el("ol", {}, detail.timeline.map((entry) =>
        el("li", {}, `${new Date(entry.at).toLocaleTimeString(currentLang())} ${timelineLabel(entry.kind)}${timelineTarget(entry)} — `,
          // Who and why as they were recorded (data-raw: a user name, a typed or logged reason).
          el("span", { "data-raw": "" }, `${entry.actor}${entry.data.reason ? `: ${entry.data.reason}` : ""}`))))),
  );
  for (const section of detailSections) {
    if (mine !== drawing) break;
    const holder = el("section", { "data-section": section.id });
    container.append(holder);
    try {
      await section.render(holder, detail, ctx);
    } catch (failure) {
      holder.textContent = `${section.id}: ${failure.message}`;
    }
  }
  return detail;
}
