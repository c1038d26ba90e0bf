"""`python -m returnstats.sample generate|deliver ...` (see `generate` and `deliver`)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

from returnstats.sample import deliver, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m returnstats.sample", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write packages by arrival date and the truth")
    gen.add_argument("--out", required=True)
    gen.add_argument("--start", type=date.fromisoformat, default=date(2020, 2, 17))
    gen.add_argument("--days", type=int, default=7)
    gen.add_argument("--persons-per-day", type=int, default=20000)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--campaign-start", type=date.fromisoformat, default=None,
                     help="default: a week before --start")
    gen.add_argument("--clean", action="store_true", help="empty --out first")
    dlv = commands.add_parser("deliver", help="copy packages arrived by --through into a landing dir")
    dlv.add_argument("--sample", required=True)
    dlv.add_argument("--landing", required=True)
    dlv.add_argument("--through", type=date.fromisoformat, required=True)
    args = parser.parse_args(argv)

    if args.command == "generate":
        began = time.perf_counter()
        info = generate(args.out, args.start, args.days, args.persons_per_day, args.seed,
                        args.campaign_start, clean=args.clean)
        print(f"{len(info.packages)} packages, truth in {info.truth} "
              f"({time.perf_counter() - began:.1f} s)")
    else:
        changed = deliver(args.sample, args.landing, args.through)
        print(f"{len(changed)} entries delivered to {args.landing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
