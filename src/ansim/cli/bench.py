"""`ansim bench ...`: benchmarks that print their figures beside a baseline from the same run.

The benchmarks are not part of the installed package: they live in bench/ansim_bench of a source
checkout and are imported lazily, from the checkout an editable install (`make install`) points at.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import ansim

FROM_A_CHECKOUT = "benchmarks run from a source checkout: make bench"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser("bench", help="run a benchmark and print its table")
    command.add_argument(
        "name",
        choices=["dispatch", "location", "cctv", "intake", "workers", "fixes", "scale", "all"],
    )
    command.add_argument(
        "--smoke", action="store_true", help="a small, fast run (CI keeps benchmarks from rotting)"
    )
    command.add_argument(
        "--road-constraint",
        action="store_true",
        help="location: keep the vehicle model on the road network (off by default)",
    )
    command.add_argument(
        "--road-matching",
        action="store_true",
        help="location: a car's 95 %% region is the roads reachable since its last fix, matched "
        "by HMM map matching (the board's default; the run without it is the baseline)",
    )
    command.add_argument(
        "--road-heading",
        action="store_true",
        help="location: the earlier experiment, the vehicle model pulled onto the road its "
        "heading fits (off by default)",
    )
    command.add_argument(
        "--traces", type=int, default=100, help="location: traces per movement kind and seed"
    )
    command.add_argument(
        "--seed", type=int, action="append", help="location: a seed (repeat; default 1, 2, 3)"
    )
    command.set_defaults(func=run)


def _benchmarks_importable() -> bool:
    """True when ansim_bench can be imported, putting the checkout's bench/ on the path if need be."""
    if importlib.util.find_spec("ansim_bench") is not None:
        return True
    # src/ansim/__init__.py -> the checkout; in an installed wheel this folder has no bench/.
    folder = Path(ansim.__file__).resolve().parent.parent.parent / "bench"
    if not (folder / "ansim_bench" / "__init__.py").is_file():
        return False
    sys.path.insert(0, str(folder))
    return True


def run(args: argparse.Namespace) -> int:
    if not _benchmarks_importable():
        print(FROM_A_CHECKOUT, file=sys.stderr)
        return 2
    if args.name in {"dispatch", "all"}:
        from ansim_bench import bench_dispatch

        print(bench_dispatch.run(smoke=args.smoke))
    if args.name in {"location", "all"}:
        from dataclasses import replace

        from ansim.domain.fusion import Tuning
        from ansim_bench import location_bench
        from ansim_bench.location_roads import RoadTraces

        roads = RoadTraces()
        tuning = Tuning()
        name = "Seoul road network (walks from schools, routed car abductions)"
        if args.road_constraint:
            tuning = replace(tuning, road=roads.nearest_road)
            name += ", vehicle model kept on roads"
        if args.road_heading:
            tuning = replace(tuning, road_points=roads.road_points)
            name += ", vehicle model matched to the road its heading fits"
        regions: list[tuple[str, Any]] = [("", None)]
        if args.road_matching:
            from functools import partial

            from ansim.geo.road_region import with_road_region

            # The same traces without the road region first: the baseline of the same run.
            region = partial(with_road_region, graph=roads.graph)
            regions.append((", a car's region: the roads reachable since its last fix", region))
        for suffix, region in regions:
            # Both error models, three seeds each; the worst seed is the result (docs/location.md).
            results = []
            for errors in location_bench.ERROR_MODELS:
                for seed in (1,) if args.smoke else args.seed or (1, 2, 3):
                    result = location_bench.run(
                        traces=3 if args.smoke else args.traces,
                        seed=seed,
                        source=roads,
                        source_name=name + suffix,
                        tuning=tuning,
                        errors=errors,
                        region=region,
                    )
                    results.append(result)
                    print(result.format_table(), flush=True)
            print(f"worst seed{suffix or ' (ellipse only)'}:")
            print(location_bench.worst_of(results), flush=True)
    if args.name in {"cctv", "all"}:
        from ansim_bench import cctv_bench

        print(cctv_bench.format_table(*cctv_bench.run(updates=200 if args.smoke else 2000)))
    if args.name in {"intake", "all"}:
        from ansim_bench import intake_bench

        print(intake_bench.format_table(intake_bench.run(smoke=args.smoke)))
    if args.name in {"workers", "all"}:  # PostgreSQL: 1 and 2 API processes, lock-wait share
        from ansim_bench import workers_bench

        print(workers_bench.format_table(workers_bench.run(smoke=args.smoke)))
    if args.name == "fixes":  # a focused re-run of the intake table's fix columns, repeated
        from ansim_bench import fix_bench

        print(fix_bench.format_table(fix_bench.run(smoke=args.smoke)))
    if args.name in {"scale", "all"}:
        from ansim_bench import scale_bench

        print(scale_bench.format_table(scale_bench.run(smoke=args.smoke)))
    return 0
