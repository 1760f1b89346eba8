"""`ansim simulate SCENARIO`: a day of drill SOS traffic driven through the real services."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser("simulate", help="run a simulation scenario (drill) and report")
    command.add_argument(
        "scenario", type=Path, help="a scenario YAML file, e.g. scenarios/short_smoke.yaml"
    )
    command.add_argument("--report", type=Path, help="write the HTML report here")
    command.add_argument("--summary", type=Path, help="write the summary JSON here")
    command.add_argument(
        "--database-url", help="a fresh, empty database (default: a temporary SQLite file)"
    )
    command.add_argument("--realtime", action="store_true", help="pace the run by the wall clock")
    command.add_argument("--speed", type=float, default=1.0, help="virtual seconds per real second")
    command.set_defaults(func=run)


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a short table with the anchors beside it."""
    lines = [
        f"scenario {summary['scenario']} (seed {summary['seed']}, {summary['virtual_minutes']} virtual min, "
        f"{summary['units_on_duty']} units): {summary['sos']} SOS, {summary['dispatched']} dispatched, "
        f"{summary['arrived']} arrivals — all drill",
        f"{'interval':<28}{'n':>5}{'median s':>10}{'p90 s':>9}{'p99 s':>9}",
    ]
    for stage, stats in summary["all"].items():
        if stats.get("n"):
            lines.append(
                f"{'press → ' + stage:<28}{stats['n']:>5}{stats['median']:>10}{stats['p90']:>9}{stats['p99']:>9}"
            )
    urgent, errors, mis, guardians = (
        summary["arrival_code01"],
        summary["location_error_m"],
        summary["mis_presses"],
        summary["guardians"],
    )
    lines += [
        f"code 0/1 arrival: mean {urgent.get('mean', '–')} s, median {urgent.get('median', '–')} s"
        "   (anchors: 5:05 = 305 s Korea 2020, 4:20 = 260 s Seoul 2018)",
        "press → dispatch order is automatic here   (anchor: 28 s call end → order, Korea 2024)",
        _convergence_line(summary["code0_convergence"]),
        f"location error at dispatch: median {errors['at_dispatch'].get('median', '–')} m, "
        f"at arrival: median {errors['at_arrival'].get('median', '–')} m",
        f"mis-presses {mis['count']}, stood down before arrival {mis['stood_down_before_arrival']}, "
        f"unit time tied up {mis['unit_minutes_tied_up']} min; utilisation {summary['utilisation'] * 100:.1f} %",
        f"guardians: {guardians['messages']} text messages, a guardian answered on the page in "
        f"{guardians['answered']} cases, none in {guardians['no_answer']}; verification: "
        + (", ".join(f"{state} {n}" for state, n in summary["verification"].items()) or "none"),
    ]
    return "\n".join(lines)


def _convergence_line(converged: dict[str, Any]) -> str:
    second, third = converged["second_unit_on_scene_s"], converged["third_unit_on_scene_s"]
    return (
        f"code 0 convergence ({converged['incidents']} incidents): 2nd unit on scene median "
        f"{second.get('median', '–')} s, p90 {second.get('p90', '–')} s; 3rd unit median "
        f"{third.get('median', '–')} s, p90 {third.get('p90', '–')} s; never a 2nd "
        f"{converged['without_second_unit']}, never a 3rd {converged['without_third_unit']}"
    )


def run(args: argparse.Namespace) -> int:
    from ansim.security import crypto, secrets
    from ansim.settings import Settings
    from ansim.sim.metrics import collect, summarise
    from ansim.sim.runner import Simulation, throwaway_sqlite
    from ansim.sim.scenario import load_scenario
    from ansim.store.db import make_engine
    from ansim.store.migrate import upgrade

    scenario = load_scenario(args.scenario)
    if args.realtime and not args.speed > 0:
        raise SystemExit("--speed must be above 0")
    # The simulated people's data is encrypted like any: the configured key, else the demo key.
    crypto.install(secrets.check(Settings(demo=True)))
    with tempfile.TemporaryDirectory(prefix="ansim-sim-") as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'sim.db'}"
        upgrade(url)
        engine = throwaway_sqlite(make_engine(url))
        sim = Simulation(scenario, engine, realtime_speed=args.speed if args.realtime else None)
        sim.run()
        summary = summarise(sim)
        print(format_summary(summary))
        if args.summary:
            args.summary.write_text(
                json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8"
            )
        if args.report:
            try:
                from ansim.sim.report import render
            except ImportError as missing:  # matplotlib is the `report` extra
                raise SystemExit(
                    f"--report needs: pip install 'ansim[report]' ({missing})"
                ) from None
            times, _ = collect(sim)
            args.report.write_text(render(sim, times, summary), encoding="utf-8")
            print(f"report: {args.report}")
        engine.dispose()
    return 0
