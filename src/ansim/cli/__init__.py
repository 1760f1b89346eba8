"""The `ansim` command. Each subcommand lives in its own module and registers here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ansim.cli import (
    admin,
    audit,
    backup,
    bench,
    cctv,
    database,
    device,
    imports,
    keys,
    retention,
    serve,
    simulate,
)

# Each module exposes `register(subparsers)`; its parsers set `func` to the handler.
COMMANDS = [
    serve,
    database,
    admin,
    imports,
    backup,
    bench,
    cctv,
    simulate,
    device,
    audit,
    keys,
    retention,
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ansim", description="ansim — silent-SOS and police dispatch / 무음 SOS·112 출동"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
