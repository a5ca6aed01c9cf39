"""``python -m infra plan|diff``: the offline plan and phase diff (see README)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.problems import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="run the program under mocks and show/write what it would send")
    p.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    p.add_argument("--phase", type=int, help="override phasescale:phase")
    p.add_argument("--out", type=Path, help="write manifests/, helm/, rules/, resources.json here")
    d = sub.add_parser("diff", help="what moving between two phases would create, change, delete")
    d.add_argument("--stack", required=True)
    d.add_argument("--from-phase", type=int, required=True)
    d.add_argument("--to-phase", type=int, required=True)
    args = parser.parse_args(argv)

    from infra import plan as planner

    if not planner.stack_file(args.stack).exists():
        print(f"no stack file {planner.stack_file(args.stack).name}", file=sys.stderr)
        return 2
    try:
        if args.command == "plan":
            result = planner.run(args.stack, args.phase)
            print(planner.summary(result))
            if args.out:
                planner.write(result, args.out)
                print(f"wrote {args.out}/")
            return 0
        from infra.diff import diff, render

        before = planner.run(args.stack, args.from_phase)
        after = planner.run(args.stack, args.to_phase)
        print(render(diff(before, after), args.from_phase, args.to_phase))
        return 0
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
