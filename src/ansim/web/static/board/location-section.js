// Fused location of the selected incident: the method mix in a dispatcher's words, the 95 %
// region (the ellipse, or for a car the road stretches it can have reached) and the filtered
// track on the board's map.
import * as L from "/vendor/leaflet/leaflet-src.esm.js";

let drawing = null;
// The panel re-renders on every event; only the newest render may draw.
let generation = 0;

function clearDrawing() {
  if (drawing) drawing.remove();
  drawing = null;
}

function line(tag, text, attributes = {}) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  element.textContent = text;
  return element;
}

function area(m2, t) {
  if (m2 >= 1e6) return `${(m2 / 1e6).toFixed(2)} km²`;
  return t(`${Math.round(m2).toLocaleString("ko")} m²`, `${Math.round(m2).toLocaleString("en")} m²`);
}

async function render(container, detail, ctx) {
  const { t } = ctx;
  const id = detail.incident.id;
  const mine = ++generation;
  const found = await ctx.api(`/api/v1/incidents/${id}/location`);
  if (mine !== generation) return;
  clearDrawing();
  container.replaceChildren(line("h3", t("추정 위치 (측위 융합)", "Fused location")));
  const estimate = found.estimate;
  if (!estimate) {
    container.append(line("p", t("측위 없음", "no fix yet"), { class: "muted" }));
    return;
  }
  const words = ctx.lang === "ko" ? estimate.description.ko : estimate.description.en;
  const region = estimate.region;
  container.append(
    line("p", words, { "data-testid": "location-words" }),
    region
      ? line("p", t(
        `95 % 범위: 마지막 측위 후 도달 가능한 도로 (최대 ${Math.round(region.reach_m)} m 이동), 면적 ${area(region.area_m2, t)} = 반경 ${Math.round(region.radius_m)} m 원`,
        `95 % region: the roads reachable since the last fix (up to ${Math.round(region.reach_m)} m driven), ${area(region.area_m2, t)} = a circle of ${Math.round(region.radius_m)} m`,
      ), { class: "muted", "data-testid": "location-area" })
      : line("p", t(
        `95 % 범위 ${Math.round(estimate.semi_major_m)} × ${Math.round(estimate.semi_minor_m)} m, 면적 ${area(estimate.area_m2, t)}`,
        `95 % area ${Math.round(estimate.semi_major_m)} × ${Math.round(estimate.semi_minor_m)} m, ${area(estimate.area_m2, t)}`,
      ), { class: "muted", "data-testid": "location-area" }),
  );
  const gated = found.fixes.filter((fix) => fix.verdict !== "accepted").length;
  if (gated) {
    container.append(line("p", t(`제외된 측위 ${gated}건 (이상값)`, `${gated} fix(es) left out as outliers`), { class: "muted" }));
  }
  if (!ctx.map) return;
  const group = L.layerGroup();
  if (region) {
    // GeoJSON is lon/lat; Leaflet takes [lat, lon] rings per polygon.
    L.polygon(region.coordinates.map((rings) => rings.map((ring) => ring.map(([lon, lat]) => [lat, lon]))), {
      color: "#d9480f", weight: 2, fillOpacity: 0.15, interactive: false,
      className: `location-region location-region-${id}`,
    }).addTo(group);
  } else {
    L.polygon(estimate.ellipse, {
      color: "#d9480f", weight: 2, fillOpacity: 0.08, dashArray: "6 4", interactive: false,
      className: `location-ellipse location-ellipse-${id}`,
    }).addTo(group);
  }
  if (estimate.track.length > 1) {
    L.polyline(estimate.track.map((p) => [p.lat, p.lon]), {
      color: "#1c7ed6", weight: 3, opacity: 0.8, interactive: false,
      className: `location-track location-track-${id}`,
    }).addTo(group);
  }
  drawing = group.addTo(ctx.map);
}

export const locationSection = { id: "location", render };
