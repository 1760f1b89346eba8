"""`ansim bench ...`: benchmarks that print their figures beside a baseline from the same run."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser("bench", help="run a benchmark and print its table")
    command.add_argument("name", choices=["dispatch", "location", "cctv", "all"])
    command.add_argument(
        "--smoke", action="store_true", help="a small, fast run (CI keeps benchmarks from rotting)"
    )
    command.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name in {"dispatch", "all"}:
        from ansim.geo import bench_dispatch

        print(bench_dispatch.run(smoke=args.smoke))
    if args.name in {"location", "all"}:
        from ansim.sim import location_bench

        result = location_bench.run(traces=10 if args.smoke else 100, seed=1)
        print(result.format_table())
    if args.name in {"cctv", "all"}:
        from ansim.cctv import bench as cctv_bench

        print(cctv_bench.format_table(*cctv_bench.run(updates=200 if args.smoke else 2000)))
    return 0
