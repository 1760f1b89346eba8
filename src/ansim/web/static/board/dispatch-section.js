// Board section "dispatch": recommended units by road ETA, ack countdown, one-key dispatch,
// pre-emption with confirmation, the route on the board's map. Contract: {id, render(container, detail, ctx)}.
import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { t } from "../common/i18n.js";
import { label } from "../common/labels.js";

let routeLayer = null;
let ticker = null;

function minutes(seconds) {
  return seconds === null || seconds === undefined ? "—" : t(`${(seconds / 60).toFixed(1)}분`, `${(seconds / 60).toFixed(1)} min`);
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function drawRoute(ctx, incidentId, unitId) {
  if (!ctx.map) return;
  const query = unitId ? `?unit_id=${encodeURIComponent(unitId)}` : "";
  const route = await ctx.api(`/api/v1/incidents/${incidentId}/route${query}`).catch(() => null);
  if (routeLayer) routeLayer.remove();
  routeLayer = null;
  if (route && route.polyline.length) {
    routeLayer = L.polyline(route.polyline, { color: "#1565c0", weight: 5, dashArray: route.on_roads ? null : "6 6" })
      .addTo(ctx.map);
  }
}

export const dispatchSection = {
  id: "dispatch",
  async render(container, detail, ctx) {
    const incidentId = detail.incident.id;
    const plan = await ctx.api(`/api/v1/incidents/${incidentId}/dispatch`);
    const fetchedAt = Date.now();
    container.replaceChildren();
    container.append(el("h3", ctx.t("출동 추천 (도로 ETA)", "Recommended units (road ETA)")));
    if (plan.jurisdiction) {
      const j = plan.jurisdiction;
      container.append(el("p", `${ctx.t("관할", "Jurisdiction")}: ${j.station_name || "—"} · ${ctx.lang === "ko" ? j.district_ko || "" : j.district_en || ""}`));
    }
    const orders = el("ul", undefined, "dispatch-orders");
    const countdowns = [];
    for (const a of plan.assignments) {
      const item = el("li", `${a.call_sign} · ${label("AssignmentState", a.state)} · ${t("도착 예상", "ETA")} ${minutes(a.eta_s)}`);
      if (a.end_reason) {
        // The server's reason text as it came (data-raw: not one of our words).
        const why = el("span", a.end_reason);
        why.dataset.raw = "";
        item.append(" · ", why);
      }
      if (a.ack_remaining_s !== null) {
        const clock = el("b", "", "ack-countdown");
        countdowns.push([clock, a.ack_remaining_s]);
        item.append(" ", clock);
      }
      orders.append(item);
    }
    container.append(orders);
    const list = el("ul", undefined, "dispatch-candidates");
    for (const unit of plan.recommended) {
      const item = el("li", `${unit.call_sign} · ${minutes(unit.eta_s)} `);
      if (unit.reason) { const why = el("span", `(${unit.reason}) `); why.dataset.raw = ""; item.append(why); }
      const go = el("button", ctx.t("출동 지령", "Dispatch"));
      go.type = "button";
      go.disabled = unit.eta_s === null;
      go.addEventListener("click", async () => {
        await ctx.api(`/api/v1/incidents/${incidentId}/dispatch`, { method: "POST", body: { unit_id: unit.unit_id } });
        await dispatchSection.render(container, detail, ctx);
      });
      const show = el("button", ctx.t("경로", "Route"));
      show.type = "button";
      show.addEventListener("click", () => drawRoute(ctx, incidentId, unit.unit_id));
      item.append(go, " ", show);
      list.append(item);
    }
    container.append(list);
    if (plan.preemptable.length) {
      container.append(el("h4", ctx.t("재배정 가능 (코드 2-4 업무 중)", "Can be pre-empted (on code 2-4 jobs)")));
      const busy = el("ul", undefined, "dispatch-preemptable");
      for (const unit of plan.preemptable) {
        const item = el("li", `${unit.call_sign} · ${minutes(unit.eta_s)} · ${t(`코드 ${unit.job_priority}`, `code ${unit.job_priority}`)} `);
        const take = el("button", ctx.t("재배정", "Pre-empt"));
        take.type = "button";
        take.addEventListener("click", async () => {
          const question = ctx.t(`${unit.call_sign}을(를) 현재 업무에서 빼서 이 사건에 배정할까요?`, `Take ${unit.call_sign} off its job for this incident?`);
          if (!window.confirm(question)) return;
          await ctx.api(`/api/v1/incidents/${incidentId}/preempt`, { method: "POST", body: { unit_id: unit.unit_id, confirm: true } });
          await dispatchSection.render(container, detail, ctx);
        });
        item.append(take);
        busy.append(item);
      }
      container.append(busy);
    }
    if (ticker) clearInterval(ticker);
    const tick = () => {
      for (const [clock, remaining] of countdowns) {
        const left = Math.round(remaining - (Date.now() - fetchedAt) / 1000);
        clock.textContent = left >= 0 ? `${ctx.t("확인 대기", "ack in")} ${left} s` : ctx.t("확인 초과", "ack overdue");
      }
    };
    tick();
    if (countdowns.length) ticker = setInterval(tick, 1000);
    if (plan.assignments.some((a) => !["cleared", "declined", "timed_out", "preempted"].includes(a.state))) {
      await drawRoute(ctx, incidentId, null);
    }
  },
};

export default dispatchSection;
