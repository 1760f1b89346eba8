// The MDT's map of the order: where the person is (the roads a car can have reached since the last
// fix, else the uncertainty circle) and the unit's route there with the drive time.
import { createBaseMap, L } from "/static/common/basemap.js";
import { currentLang } from "/static/common/i18n.js";
import { uncertaintyNow } from "/static/common/labels.js";

const $ = (id) => document.getElementById(id);

// `api` fetches JSON (throws with a message), `t` gives the MDT's words.
export function createOrderMap({ api, t }) {
  let map = null;
  let layers = null;
  // Orders re-render on every event; only the newest drawing may reach the map.
  let drawing = 0;

  async function setUp() {
    if (map) return;
    const config = await api("/config.json").catch(() => ({}));
    map = createBaseMap($("map"), config).map;
    layers = L.layerGroup().addTo(map);
  }

  function clear() {
    if (layers) layers.clearLayers();
    $("eta").textContent = "";
  }

  async function roadRegion(incidentId) {
    try {
      const found = await api(`/api/v1/incidents/${incidentId}/location`);
      return found.estimate ? found.estimate.region : null;
    } catch {
      return null; // the circle of the order stays
    }
  }

  async function draw({ assignment, incident }) {
    const mine = ++drawing;
    clear();
    const where = incident.location;
    if (!where) return;
    // A car on the mapped roads: the road stretches it can have reached, not a circle.
    const region = await roadRegion(incident.id);
    if (mine !== drawing) return;
    clear();
    if (region) {
      L.polygon(region.coordinates.map((rings) => rings.map((ring) => ring.map(([lon, lat]) => [lat, lon]))), {
        color: "#c0392b", fillOpacity: 0.2, className: "location-region",
      }).addTo(layers);
      $("region").textContent = t("road_region");
      // The one figure: the radius of the circle with the region's area, grown to now (server).
      $("location").textContent = `${where.lat.toFixed(5)}, ${where.lon.toFixed(5)} · ${t("radius")} ±${Math.round(region.radius_m)} m · ${t(where.method)}`;
    } else {
      L.circle([where.lat, where.lon], { radius: uncertaintyNow(where).radius_m, color: "#c0392b", fillOpacity: 0.15 })
        .addTo(layers);
      $("region").textContent = "";
    }
    L.circleMarker([where.lat, where.lon], { radius: 6, color: "#c0392b", fillOpacity: 1 }).addTo(layers);
    let bounds = L.latLngBounds([[where.lat, where.lon]]).pad(0.5);
    try {
      const route = await api(`/api/v1/assignments/${assignment.id}/route`);
      if (mine !== drawing) return;
      if (route.polyline.length) {
        const line = L.polyline(route.polyline, { color: "#1565c0", weight: 5 }).addTo(layers);
        L.circleMarker(route.polyline[0], { radius: 7, color: "#1565c0", fillOpacity: 1 }).addTo(layers);
        bounds = line.getBounds().pad(0.2);
      }
      if (route.seconds !== null) {
        const minutes = (route.seconds / 60).toFixed(1);
        const km = route.metres === null ? "" : ` · ${(route.metres / 1000).toFixed(1)} km`;
        $("eta").textContent = `${t("drive")} ${minutes}${currentLang() === "ko" ? "분" : " min"}${km}${route.on_roads ? "" : ` (${t("straight")})`}`;
      } else {
        $("eta").textContent = route.reason;
      }
    } catch (error) {
      $("eta").textContent = error.message;
    }
    map.fitBounds(bounds);
  }

  return { setUp, clear, draw };
}
