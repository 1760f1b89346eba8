// The board's map: offline base map from the bundled roads (or a configured tile server),
// incidents with their uncertainty circles, units with their call signs.
import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { api } from "../common/api.js";

const CODE_COLOURS = ["#ff3b3b", "#ff8a1f", "#f2c94c", "#56ccf2", "#9aa5b1"];
const UNIT_COLOURS = { available: "#27ae60", ordered: "#f2c94c", en_route: "#ff8a1f", on_scene: "#bb6bd9", busy: "#9aa5b1", off_duty: "#4f5b66" };

export function createMap(element, config, onSelect) {
  const map = L.map(element, { preferCanvas: false, zoomControl: true }).setView([37.5665, 126.978], 14);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  } else {
    map.attributionControl.addAttribution("© OpenStreetMap contributors (ODbL)");
    api("/api/v1/map/roads").then((roads) => {
      L.geoJSON(roads, {
        interactive: false,
        style: (feature) => ({ color: feature.properties.major ? "#5b7288" : "#34475a", weight: feature.properties.major ? 2.5 : 1 }),
      }).addTo(map);
    });
  }
  const incidents = new Map();
  const units = new Map();

  return {
    map,
    showIncident(incident, selected) {
      const loc = incident.location;
      const existing = incidents.get(incident.id);
      if (!loc || !incident_active(incident)) {
        if (existing) { existing.remove(); incidents.delete(incident.id); }
        return;
      }
      const colour = CODE_COLOURS[incident.priority] ?? "#9aa5b1";
      const latlng = [loc.lat, loc.lon];
      if (existing) {
        existing.circle.setLatLng(latlng).setRadius(loc.radius_m).setStyle({ color: colour, fillColor: colour });
        existing.dot.setLatLng(latlng).setStyle({ fillColor: colour, weight: selected ? 4 : 2 });
        return;
      }
      const circle = L.circle(latlng, { radius: loc.radius_m, color: colour, fillColor: colour, fillOpacity: 0.12, weight: 1, interactive: false, className: `uncertainty uncertainty-${incident.id}` }).addTo(map);
      const dot = L.circleMarker(latlng, { radius: 9, color: "#fff", weight: selected ? 4 : 2, fillColor: colour, fillOpacity: 1, className: `incident-marker incident-${incident.id}` }).addTo(map);
      dot.on("click", () => onSelect(incident.id));
      incidents.set(incident.id, { circle, dot, remove() { circle.remove(); dot.remove(); } });
    },
    forgetIncidentsExcept(ids) {
      for (const [id, layer] of incidents) if (!ids.has(id)) { layer.remove(); incidents.delete(id); }
    },
    showUnit(unit) {
      if (unit.lat === null || unit.lon === null) return;
      const colour = UNIT_COLOURS[unit.status] ?? "#9aa5b1";
      const existing = units.get(unit.id);
      if (existing) {
        existing.setLatLng([unit.lat, unit.lon]).setStyle({ fillColor: colour });
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
    focus(incident) {
      if (incident.location) map.setView([incident.location.lat, incident.location.lon], Math.max(map.getZoom(), 15));
    },
  };
}

function incident_active(incident) {
  return !["resolved", "closed"].includes(incident.status);
}
