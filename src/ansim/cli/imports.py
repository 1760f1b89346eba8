"""`ansim import ...`: turn public data into what ansim uses."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from ansim.cli import cctv
from ansim.domain.errors import DomainError, InvalidInput


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
        "roads",
        help="store the center's road network (OSMnx GraphML, .osm or ansim .json.gz); "
        "the ranker and the board's base map use it",
    )
    roads.add_argument("file", type=Path)
    roads.add_argument("--check", action="store_true", help="only check and summarise the file")
    roads.add_argument("--attribution", default="© OpenStreetMap contributors (ODbL 1.0)")
    roads.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    roads.set_defaults(func=run_roads)
    cctv.register_import(kinds)
    districts = kinds.add_parser(
        "districts",
        help="store the center's district boundaries (GeoJSON FeatureCollection; Seoul's 25 자치구 "
        "are bundled and the default) for jurisdiction and staff districts",
    )
    districts.add_argument("file", type=Path)
    districts.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    districts.set_defaults(func=run_districts)
    for kind, helptext in [
        (
            "stations",
            "police stations from the public police CSV (geocoded list, or the official address "
            "list for stations already known)",
        ),
        ("units", "patrol units from a CSV with the header call_sign,station,kind"),
    ]:
        parser = kinds.add_parser(kind, help=helptext)
        parser.add_argument("file", type=Path, help="CSV file (UTF-8 or CP949)")
        parser.add_argument("--rejects", type=Path, help="write every rejected row to this CSV")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
        parser.set_defaults(func=run_fleet_import, fleet_kind=kind)


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
    if args.check:
        return 0
    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.services import center_maps

    with cli_platform(args.database_url) as platform:
        center_maps.do_store_roads(
            platform,
            graph=graph,
            source=args.file.name,
            attribution=args.attribution,
            actor=cli_actor(),
        )
    print("stored: the ranker and the board's base map use it from the next start of each worker")
    return 0


def read_csv_text(path: Path) -> str:
    """Public Korean CSVs come as UTF-8 (with or without BOM) or CP949."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp949")


def run_fleet_import(args: argparse.Namespace) -> int:
    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.services import fleet

    command = fleet.do_import_stations if args.fleet_kind == "stations" else fleet.do_import_units
    bar = cctv.ProgressBar(args.fleet_kind, enabled=not args.quiet and sys.stderr.isatty())
    try:
        text = read_csv_text(args.file)
        with cli_platform(args.database_url) as platform:
            report = command(
                platform, text=text, source=args.file.name, actor=cli_actor(), progress=bar
            )
    except (DomainError, OSError, UnicodeDecodeError) as error:
        print(f"cannot import {args.file}: {error}", file=sys.stderr)
        return 2
    print(
        f"{report.source} ({report.layout}): {report.read:,} rows read, {report.added:,} added, "
        f"{report.updated:,} updated, {report.unchanged:,} unchanged, "
        f"{len(report.rejected):,} rejected"
    )
    for rejection in report.rejected[:10]:
        print(f"  line {rejection.line}: {rejection.reason}")
    if len(report.rejected) > 10:
        print(f"  … and {len(report.rejected) - 10} more")
    if args.rejects and report.rejected:
        with args.rejects.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "reason", "row"])
            writer.writerows((r.line, r.reason, r.text) for r in report.rejected)
        print(f"  all rejected rows: {args.rejects}")
    return 0


def run_districts(args: argparse.Namespace) -> int:
    import json

    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.services import center_maps

    try:
        collection = json.loads(args.file.read_text(encoding="utf-8-sig"))
        with cli_platform(args.database_url) as platform:
            names = center_maps.do_store_districts(
                platform, collection=collection, source=args.file.name, actor=cli_actor()
            )
    except (DomainError, OSError, ValueError) as error:
        print(f"cannot import {args.file}: {error}", file=sys.stderr)
        return 2
    print(
        f"{args.file.name}: {len(names)} districts stored ({', '.join(names[:5])}"
        f"{', …' if len(names) > 5 else ''}); every worker uses them from its next start"
    )
    return 0
