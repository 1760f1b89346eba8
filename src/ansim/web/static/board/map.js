// The board's map: the shared base map (common/basemap.js), incidents with their uncertainty
// circles (the radius grown to now, as the queue and the panel say it), units with their call signs.
import { createBaseMap, L } from "../common/basemap.js";
import { uncertaintyNow } from "../common/labels.js";

const CODE_COLOURS = ["#ff3b3b", "#ff8a1f", "#f2c94c", "#56ccf2", "#9aa5b1"];
const UNIT_COLOURS = { available: "#27ae60", ordered: "#f2c94c", en_route: "#ff8a1f", on_scene: "#bb6bd9", busy: "#9aa5b1", off_duty: "#4f5b66" };

export function createMap(element, config, onSelect) {
  const base = createBaseMap(element, config);
  const { map } = base;
  const incidents = new Map();
  const units = new Map();

  return {
    map,
    area: base.area,
    showIncident(incident, selected) {
      const loc = incident.location;
      const existing = incidents.get(incident.id);
      if (!loc || !incidentActive(incident)) {
        if (existing) { existing.remove(); incidents.delete(incident.id); }
        return;
      }
      const colour = CODE_COLOURS[incident.priority] ?? "#9aa5b1";
      const latlng = [loc.lat, loc.lon];
      const radius = uncertaintyNow(loc).radius_m;
      if (existing) {
        existing.location = loc;
        existing.circle.setLatLng(latlng).setRadius(radius).setStyle({ color: colour, fillColor: colour });
        existing.dot.setLatLng(latlng).setStyle({ fillColor: colour, weight: selected ? 4 : 2 });
        return;
      }
      const circle = L.circle(latlng, { radius, color: colour, fillColor: colour, fillOpacity: 0.12, weight: 1, interactive: false, className: `uncertainty uncertainty-${incident.id}` }).addTo(map);
      const dot = L.circleMarker(latlng, { radius: 9, color: "#fff", weight: selected ? 4 : 2, fillColor: colour, fillOpacity: 1, className: `incident-marker incident-${incident.id}` }).addTo(map);
      dot.on("click", () => onSelect(incident.id));
      incidents.set(incident.id, { circle, dot, location: loc, remove() { circle.remove(); dot.remove(); } });
    },
    // The circles grow with the estimate's age: redrawn on the board's clock.
    growCircles() {
      for (const layer of incidents.values()) layer.circle.setRadius(uncertaintyNow(layer.location).radius_m);
    },
    forgetIncidentsExcept(ids) {
      for (const [id, layer] of incidents) if (!ids.has(id)) { layer.remove(); incidents.delete(id); }
    },
    showUnit(unit) {
      if (unit.lat === null || unit.lon === null) return;
      const colour = UNIT_COLOURS[unit.status] ?? "#9aa5b1";
      const existing = units.get(unit.id);
      if (existing) {
        // The call sign too: an admin may have renamed the unit (unit.changed).
        existing.setLatLng([unit.lat, unit.lon]).setStyle({ fillColor: colour }).setTooltipContent(unit.call_sign);
        return;
      }
      const marker = L.circleMarker([unit.lat, unit.lon], { radius: 6, color: "#0b1118", weight: 2, fillColor: colour, fillOpacity: 1, className: `unit-marker unit-${unit.id}` })
        .bindTooltip(unit.call_sign, { permanent: true, direction: "right", className: "unit-label", offset: [6, 0] })
        .addTo(map);
      units.set(unit.id, marker);
    },
    moveUnit(unitId, lat, lon) {
      units.get(unitId)?.setLatLng([lat, lon]);
    },
    // The selected incident with its whole uncertainty circle in view.
    focus(incident) {
      const layer = incidents.get(incident.id);
      if (layer) map.fitBounds(layer.circle.getBounds().pad(0.3), { maxZoom: 17 });
      else if (incident.location) map.setView([incident.location.lat, incident.location.lon], Math.max(map.getZoom(), 15));
    },
  };
}

function incidentActive(incident) {
  return !["resolved", "closed"].includes(incident.status);
}
