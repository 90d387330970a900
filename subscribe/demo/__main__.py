"""`python -m subscribe.demo`: run the demo CKAN portal (see --help)."""

from __future__ import annotations

import argparse

from subscribe.demo.portal import run_portal


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m subscribe.demo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument(
        "--tick-seconds", type=float, default=5.0, help="seconds between changes; 0 = none"
    )
    parser.add_argument("--size", type=int, default=600, help="datasets in the base catalog")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    run_portal(args.host, args.port, args.tick_seconds, args.size, args.seed)


if __name__ == "__main__":
    main()
