"""`ansim import ...`: turn public data into what ansim uses."""

from __future__ import annotations

import argparse
from pathlib import Path

from ansim.cli import cctv
from ansim.domain.errors import InvalidInput


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser("import", help="import public data")
    kinds = command.add_subparsers(dest="kind", required=True)
    demo = kinds.add_parser(
        "demo-data", help="rebuild the bundled Seoul demo data from a shared/data folder"
    )
    demo.add_argument(
        "source", type=Path, help="folder with road_network/, police/, schools/, cctv/, boundaries/"
    )
    demo.add_argument(
        "--out", type=Path, default=None, help="default: the package's data/seoul folder"
    )
    demo.set_defaults(func=run_demo_data)
    roads = kinds.add_parser(
        "roads", help="check and summarise an OSM road network (GraphML, .osm or ansim .json.gz)"
    )
    roads.add_argument("file", type=Path)
    roads.set_defaults(func=run_roads)
    cctv.register_import(kinds)


def run_demo_data(args: argparse.Namespace) -> int:
    from ansim.geo import demo_data_import

    out = args.out or Path(demo_data_import.__file__).resolve().parent.parent / "data" / "seoul"
    report = demo_data_import.build_demo_data(args.source, out)
    print(report)
    return 0


def run_roads(args: argparse.Namespace) -> int:
    from ansim.geo.roads import load_roads_file

    try:
        graph = load_roads_file(args.file)
    except (InvalidInput, OSError) as error:
        print(f"cannot import {args.file}: {error}")
        return 2
    print(f"{args.file}: {graph.node_count} nodes, {graph.edge_count} directed edges")
    return 0
