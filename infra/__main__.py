"""``python -m infra plan|diff``: the offline plan and phase diff (see README)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.problems import ConfigError
from infra.advise import add_arguments as advise_arguments
from infra.advise import run as advise_run


def _phase(text: str) -> int:
    """``--phase``: 1-4 in ASCII digits (``int()`` would read a fullwidth two as 2)."""
    if not (text.isascii() and text.isdigit()) or int(text) not in (1, 2, 3, 4):
        raise argparse.ArgumentTypeError(f"{text!r} is not a phase; valid: 1, 2, 3, 4")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="run the program under mocks and show/write what it would send")
    p.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    p.add_argument("--phase", type=_phase, help="override phasescale:phase")
    p.add_argument("--out", type=Path, help="write manifests/, helm/, rules/, resources.json here")
    p.add_argument("--dir", type=Path, default=None, help="folder of the stack files (default: project)")
    d = sub.add_parser("diff", help="what moving between two phases would create, change, delete")
    d.add_argument("--stack", required=True)
    d.add_argument("--from-phase", type=_phase, required=True)
    d.add_argument("--to-phase", type=_phase, required=True)
    d.add_argument("--dir", type=Path, default=None, help="folder of the stack files (default: project)")
    c = sub.add_parser("cost", help="monthly cost of a stack at a phase, from its offline plan")
    c.add_argument("--stack", required=True)
    c.add_argument("--phase", type=_phase, help="override phasescale:phase")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.add_argument("--dir", type=Path, default=None, help="folder of the stack files (default: project)")
    sub.add_parser("reference", help="print the config reference (the README's, generated)")
    sub.add_parser("preflight", help="(used by the program under pulumi up) the plan checks of a config read from stdin")
    a = sub.add_parser("advise", help="should the stack move up or down a phase? (live Prometheus)")
    advise_arguments(a)
    args = parser.parse_args(argv)
    if args.command == "advise":
        from infra import advise
        from infra import plan as planner

        advise.COST_ESTIMATE = planner.phase_costs
        status, out, err = advise_run(args)
        if out:
            print(out)
        if err:
            print(err, file=sys.stderr)
        return status
    if args.command == "reference":
        from infra import reference

        print(reference.render())
        return 0

    from infra import plan as planner

    if args.command == "preflight":
        status, answer = planner.preflight_child(sys.stdin.read())
        print(answer)
        return status
    root = args.dir or planner.ROOT
    if not planner.stack_file(args.stack, root).exists():
        print(f"no stack file {planner.stack_file(args.stack, root)}", file=sys.stderr)
        return 2
    try:
        from infra import cost, cost_report

        if args.command == "cost":
            result = planner.run(args.stack, args.phase, root, check_budget=False)
            est = cost.estimate(result.records, result.settings.stack.usage)
            budget = result.settings.stack.budget_usd_per_month
            print(cost_report.render(est, args.stack, result.settings.phase, args.format, budget))
            return 2 if est.unpriced or cost.budget_problems(est, budget) else 0
        if args.command == "plan":
            result = planner.run(args.stack, args.phase, root)
            print(planner.summary(result))
            print(cost_report.total_line(cost.estimate(result.records, result.settings.stack.usage),
                                         result.settings.stack.budget_usd_per_month))
            if args.out:
                planner.write(result, args.out)
                print(f"wrote {args.out}/")
            return 0
        from infra.diff import diff, render

        before = planner.run(args.stack, args.from_phase, root)
        after = planner.run(args.stack, args.to_phase, root)
        delta = cost_report.delta_line(cost.estimate(before.records, before.settings.stack.usage),
                                       cost.estimate(after.records, after.settings.stack.usage))
        print(cost_report.beside_stateful(render(diff(before, after), args.from_phase, args.to_phase), delta))
        return 0
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
