"""Command line: `python -m sandbox serve --port N [--size small|full] [--today YYYY-MM-DD] [--seed N]`."""

from __future__ import annotations

import argparse
import os
from datetime import date

from sandbox.catalogue import DEFAULT_SEED, SIZES
from sandbox.dataset import SEED_VARIABLE, SIZE_VARIABLE, TODAY_VARIABLE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="The Costplane sandbox AWS organisation")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run moto in server mode with the billing exports seeded")
    serve_parser.add_argument("--port", type=int, required=True)
    serve_parser.add_argument("--size", choices=SIZES, default=os.environ.get(SIZE_VARIABLE) or "small")
    serve_parser.add_argument("--today", type=date.fromisoformat, default=os.environ.get(TODAY_VARIABLE) or None)
    serve_parser.add_argument("--seed", type=int, default=int(os.environ.get(SEED_VARIABLE) or DEFAULT_SEED))
    arguments = parser.parse_args(argv)
    if arguments.command == "serve":
        from sandbox.server import serve

        serve(port=arguments.port, size=arguments.size, today=arguments.today, seed=arguments.seed)


if __name__ == "__main__":
    main()
