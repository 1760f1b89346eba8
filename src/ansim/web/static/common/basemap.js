// The base map every console draws: the configured tile server, or the bundled offline roads;
// opened on the center's area (the districts the road network covers), with district outlines.
import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { api } from "./api.js";

export { L };

// Resolves to {map, districts} once the base layers are drawn (the map is usable at once).
export function createBaseMap(element, config, { districts = true } = {}) {
  const map = L.map(element, { zoomControl: true }).setView([37.5665, 126.978], 14);
  const ready = [];
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  } else {
    map.attributionControl.addAttribution("© OpenStreetMap contributors (ODbL)");
    ready.push(api("/api/v1/map/roads").then((roads) => {
      L.geoJSON(roads, {
        interactive: false,
        className: "base-road",
        style: (feature) => ({ color: feature.properties.major ? "#6b8299" : "#3f5468", weight: feature.properties.major ? 2.5 : 1 }),
      }).addTo(map);
      element.dataset.basemap = "roads";
    }));
  }
  const area = api("/api/v1/map/districts").then((found) => {
    map.fitBounds(found.area);
    element.dataset.area = "fitted";
    if (districts) {
      L.geoJSON(found, { interactive: false, className: "district-outline", style: { color: "#8a7fd6", weight: 1.5, dashArray: "4 4", fill: false } }).addTo(map);
    }
    return found;
  }).catch(() => ({ features: [], area: null }));
  ready.push(area);
  return { map, area, ready: Promise.all(ready).catch(() => null) };
}

// The district (자치구) containing a point, from the /map/districts GeoJSON; null outside them.
export function districtOf(found, lat, lon) {
  for (const feature of found?.features ?? []) {
    for (const polygon of feature.geometry.coordinates) {
      let inside = false;
      for (const ring of polygon) {
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          const [xi, yi] = ring[i];
          const [xj, yj] = ring[j];
          if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
        }
      }
      if (inside) return feature.properties;
    }
  }
  return null;
}
