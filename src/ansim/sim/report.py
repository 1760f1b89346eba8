"""The HTML report: tables beside the national anchors, and plots embedded as PNG."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only
import matplotlib.pyplot as plt
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ansim.sim.metrics import ANCHORS, STAGES, CaseTimes
from ansim.sim.runner import Simulation

_STAGE_NAMES = {
    "board": "press → board (commit)",
    "order": "press → dispatch order",
    "ack": "press → acknowledgement",
    "arrival": "press → arrival on scene",
}


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _distributions(times: list[CaseTimes]) -> str:
    figure, axes = plt.subplots(1, 4, figsize=(14, 3))
    for axis, stage in zip(axes, STAGES, strict=True):
        values = [v for t in times if (v := t.stage(stage)) is not None]
        axis.hist(values, bins=20, color="#3566a8")
        axis.set_title(_STAGE_NAMES[stage], fontsize=9)
        axis.set_xlabel("seconds")
        if stage == "arrival":
            axis.axvline(
                ANCHORS["arrival_code01_seoul_s"], color="red", ls="--", label="Seoul 4:20"
            )
            axis.axvline(
                ANCHORS["arrival_code01_national_s"], color="orange", ls="--", label="Korea 5:05"
            )
            axis.legend(fontsize=7)
    return _png(figure)


def _map(sim: Simulation, times: list[CaseTimes]) -> str:
    graph = sim.city.graph
    figure, axis = plt.subplots(figsize=(8, 7))
    segments = [
        [(graph.node_lon[a], graph.node_lat[a]), (graph.node_lon[b], graph.node_lat[b])]
        for a, b in zip(graph.edge_from.tolist(), graph.edge_to.tolist(), strict=True)
    ]
    axis.add_collection(LineCollection(segments, colors="#cccccc", linewidths=0.4))
    arrived = [t for t in times if t.arrival_s is not None]
    if arrived:
        lons = [t.case.trace.origin[1] for t in arrived]
        lats = [t.case.trace.origin[0] for t in arrived]
        shade = axis.scatter(
            lons,
            lats,
            c=[t.arrival_s or 0.0 for t in arrived],
            cmap="RdYlGn_r",
            s=40,
            vmin=0,
            vmax=max(600.0, max(t.arrival_s or 0 for t in arrived)),
        )
        figure.colorbar(shade, ax=axis, label="press → arrival (s)")
    missed = [t for t in times if t.arrival_s is None]
    axis.scatter(
        [t.case.trace.origin[1] for t in missed],
        [t.case.trace.origin[0] for t in missed],
        marker="x",
        color="black",
        s=25,
        label="no arrival (stood down / open at end)",
    )
    stations = sim.world.stations if sim.world else []
    axis.scatter(
        [s.lon for s in stations],
        [s.lat for s in stations],
        marker="^",
        color="#1f3d7a",
        s=25,
        label="police stations / boxes",
    )
    axis.set_xlim(float(graph.node_lon.min()), float(graph.node_lon.max()))
    axis.set_ylim(float(graph.node_lat.min()), float(graph.node_lat.max()))
    axis.ticklabel_format(useOffset=False)
    axis.set_aspect(1 / 0.79)  # cos(37.57°): metres the same both ways
    axis.legend(fontsize=7, loc="lower left")
    axis.set_title("Response time across the district (where the SOS was pressed)")
    return _png(figure)


def _errors(times: list[CaseTimes]) -> str:
    figure, axis = plt.subplots(figsize=(6, 3))
    dispatch = [e for t in times if (e := t.case.error_at_dispatch_m) is not None]
    arrival = [e for t in times if (e := t.case.error_at_arrival_m) is not None]
    axis.hist([dispatch, arrival], bins=20, label=["at dispatch", "at arrival"])
    axis.set_xlabel("metres between estimate and the person")
    axis.legend()
    return _png(figure)


def _table(title: str, groups: dict[str, Any]) -> str:
    rows = []
    for label, stages in groups.items():
        for stage in STAGES:
            s = stages[stage]
            if s.get("n"):
                rows.append(
                    f"<tr><td>{html.escape(label)}</td><td>{_STAGE_NAMES[stage]}</td><td>{s['n']}</td>"
                    f"<td>{s['median']}</td><td>{s['p90']}</td><td>{s['p99']}</td></tr>"
                )
    return (
        f"<h2>{title}</h2><table><tr><th></th><th>interval</th><th>n</th><th>median s</th>"
        f"<th>p90 s</th><th>p99 s</th></tr>{''.join(rows)}</table>"
    )


def render(sim: Simulation, times: list[CaseTimes], summary: dict[str, Any]) -> str:
    """The whole report as one self-contained HTML page (drill data only)."""
    mis, errors = summary["mis_presses"], summary["location_error_m"]
    anchors = (
        "<p class=anchor>Anchors: code 0/1 average arrival <b>5:05</b> nationally (2020), "
        "<b>4:20</b> in Seoul (2018); <b>28 s</b> from call end to dispatch order (2024: 12 s to "
        "system entry + 16 s to order). Here the order is automatic in the SOS transaction.</p>"
    )
    urgent = summary["arrival_code01"]
    headline = (
        f"<p>{summary['sos']} SOS, {summary['dispatched']} dispatched, {summary['arrived']} arrivals; "
        f"code 0/1 arrival mean {urgent.get('mean', '–')} s, median {urgent.get('median', '–')} s "
        f"(Seoul anchor 260 s, national 305 s). Utilisation {summary['utilisation'] * 100:.1f} % of "
        f"{summary['units_on_duty']} units. Mis-presses {mis['count']}, stood down before arrival "
        f"{mis['stood_down_before_arrival']}, unit time tied up {mis['unit_minutes_tied_up']} min.</p>"
    )
    location = (
        f"<p>Location error at dispatch: median {errors['at_dispatch'].get('median', '–')} m, "
        f"p90 {errors['at_dispatch'].get('p90', '–')} m; at arrival: median "
        f"{errors['at_arrival'].get('median', '–')} m, p90 {errors['at_arrival'].get('p90', '–')} m.</p>"
    )
    converged = summary["code0_convergence"]
    second, third = converged["second_unit_on_scene_s"], converged["third_unit_on_scene_s"]
    convergence = (
        f"<p>Code 0 convergence ({converged['incidents']} incidents, from the escalation or the "
        f"press): second unit on scene median {second.get('median', '–')} s, p90 "
        f"{second.get('p90', '–')} s; third unit median {third.get('median', '–')} s, p90 "
        f"{third.get('p90', '–')} s. Never a second unit: {converged['without_second_unit']}; "
        f"never a third: {converged['without_third_unit']}.</p>"
    )
    guardians = summary["guardians"]
    decided = ", ".join(f"{state} {n}" for state, n in summary["verification"].items()) or "none"
    verified = (
        f"<p>Guardians: {guardians['messages']} text messages reached simulated phones; a guardian "
        f"answered on the page in {guardians['answered']} cases, none did in "
        f"{guardians['no_answer']}. Verification outcomes: {decided}.</p>"
    )
    gaps = "".join(f"<li>{html.escape(g)}</li>" for g in summary["gaps"]) or "<li>none</li>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ansim simulation — {html.escape(summary["scenario"])}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}.anchor{{background:#fff3cd;padding:6px}}
.drill{{background:#b00;color:#fff;padding:4px 8px;font-weight:bold}}</style></head><body>
<p class=drill>훈련 DRILL — simulated incidents, never real</p>
<h1>Simulation {html.escape(summary["scenario"])} (seed {summary["seed"]}, {summary["virtual_minutes"]} virtual min)</h1>
{headline}{anchors}{convergence}{location}{verified}
<img alt="distributions" src="data:image/png;base64,{_distributions(times)}">
{_table("By priority code (final)", summary["by_priority"])}
{_table("By channel", summary["by_channel"])}
<h2>Location error</h2><img alt="location error" src="data:image/png;base64,{_errors(times)}">
<h2>Response-time map</h2><img alt="map" src="data:image/png;base64,{_map(sim, times)}">
<h2>Known gaps</h2><ul>{gaps}</ul>
<p>Road network © OpenStreetMap contributors (ODbL); police boxes and schools: Korean public data.</p>
</body></html>"""
