// Units and stations page (admins): lists both and edits one row at a time. Each save is one
// PATCH (a do_* command on the server, audited); the lists are read again after it.
import { api } from "/static/common/api.js";
import { langToggle, t, translatePage } from "/static/common/i18n.js";
import { label } from "/static/common/labels.js";
import { applyTheme } from "/static/common/ui.js";

applyTheme();
const base = "/api/v1/admin/fleet";
let stations = [];
let units = [];

function show(text, ok = true) {
  const result = document.getElementById("result");
  result.textContent = text;
  result.className = ok ? "" : "error";
}

const stationKey = (s) => `${s.district} ${s.name}`.trim();

function cells(row, values) {
  for (const value of values) {
    const cell = document.createElement("td");
    cell.textContent = value;
    row.append(cell);
  }
}

function editButton(name, open) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = t("수정", "Edit");
  b.setAttribute("aria-label", `${t("수정", "Edit")}: ${name}`);
  b.addEventListener("click", () => open(b));
  return b;
}

function renderUnits() {
  const rows = units.map((u) => {
    const row = document.createElement("tr");
    row.dataset.callSign = u.call_sign;
    if (u.retired_at) row.className = "retired";
    const state = u.retired_at ? t("퇴역", "retired") : label("UnitStatus", u.status);
    cells(row, [u.call_sign, label("UnitKind", u.kind), stationKey({ district: u.district, name: u.station }), state]);
    const actions = document.createElement("td");
    if (!u.retired_at) actions.append(editButton(u.call_sign, (opener) => openUnit(u, opener)));
    row.append(actions);
    return row;
  });
  document.getElementById("units").replaceChildren(...rows);
}

function renderStations() {
  const rows = stations.map((s) => {
    const row = document.createElement("tr");
    row.dataset.station = stationKey(s);
    if (s.retired_at) row.className = "retired";
    cells(row, [s.name, label("StationKind", s.kind), s.district, `${s.lat.toFixed(5)}, ${s.lon.toFixed(5)}`,
      s.retired_at ? t("퇴역", "retired") : String(s.units)]);
    const actions = document.createElement("td");
    if (!s.retired_at) actions.append(editButton(s.name, (opener) => openStation(s, opener)));
    row.append(actions);
    return row;
  });
  document.getElementById("stations").replaceChildren(...rows);
}

async function load() {
  [units, stations] = await Promise.all([api(`${base}/units`), api(`${base}/stations`)]);
  renderUnits();
  renderStations();
}

// One dialog per kind of row: Save sends the form, Cancel or Escape closes it, focus goes back.
function dialogFor(id, save) {
  const dialog = document.getElementById(`${id}-dialog`);
  const form = document.getElementById(`${id}-edit`);
  const error = document.getElementById(`${id}-error`);
  let opener = null;
  dialog.addEventListener("close", () => opener?.focus());
  form.querySelector(".cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const [text, row] = await save(new FormData(form));
      show(text);
      opener = null;
      dialog.close();
      await load();
      // The lists were drawn again: focus the edited row's button, not the one that was replaced.
      document.querySelector(`${row} button`)?.focus();
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  return (values, from) => {
    opener = from;
    error.textContent = "";
    for (const [name, value] of Object.entries(values)) form.elements[name].value = value;
    dialog.showModal();
  };
}

let editingUnit = null;
const openUnitDialog = dialogFor("unit", async (form) => {
  const changed = await api(`${base}/units/${encodeURIComponent(editingUnit.call_sign)}`, {
    method: "PATCH",
    body: { call_sign: form.get("call_sign").trim(), kind: form.get("kind"), station: form.get("station") },
  });
  return [t(`${changed.call_sign}: 저장했습니다`, `${changed.call_sign}: saved`),
    `#units tr[data-call-sign="${CSS.escape(changed.call_sign)}"]`];
});

function openUnit(unit, opener) {
  editingUnit = unit;
  const select = document.querySelector("#unit-edit select[name=station]");
  select.replaceChildren(...stations.filter((s) => !s.retired_at || s.id === unit.station_id).map((s) =>
    Object.assign(document.createElement("option"), { value: stationKey(s), textContent: stationKey(s) })));
  const current = stations.find((s) => s.id === unit.station_id);
  openUnitDialog({ call_sign: unit.call_sign, kind: unit.kind, station: current ? stationKey(current) : "" }, opener);
}

let editingStation = null;
const openStationDialog = dialogFor("station", async (form) => {
  const changed = await api(`${base}/stations/${encodeURIComponent(stationKey(editingStation))}`, {
    method: "PATCH",
    body: {
      name: form.get("name").trim(),
      kind: form.get("kind"),
      district: form.get("district").trim(),
      lat: Number(form.get("lat")),
      lon: Number(form.get("lon")),
    },
  });
  return [t(`${changed.name}: 저장했습니다`, `${changed.name}: saved`),
    `#stations tr[data-station="${CSS.escape(stationKey(changed))}"]`];
});

function openStation(station, opener) {
  editingStation = station;
  openStationDialog({ name: station.name, kind: station.kind, district: station.district, lat: station.lat, lon: station.lon }, opener);
}

translatePage();
langToggle(document.getElementById("lang"), () => {
  renderUnits();
  renderStations();
});
load().catch((error) => show(error.message, false));
