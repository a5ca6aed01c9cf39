"""``python -m infra advise``: should the stack move up (or down) a phase? Each condition of the
move up and of the move down, read from a live Prometheus with the rules' own expressions
(``components.monitoring.thresholds``), judged by ``infra.advise_verdict`` and printed by
``infra.advise_report`` (plain text, or JSON for CI).

Queries per condition, at the evaluation time: ``TriggerCondition.expr`` (the verdict: the very
expression the recording rule ``phasescale:trigger:<name>`` evaluates), the left side of its
comparison (the value compared), the recorded signal now, and two range queries (how long the
comparison has held, how much history the signal has) that only explain an unknown or a "not yet".
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import yaml

from components.monitoring.alert_rules import rule_groups
from components.monitoring.thresholds import (
    CEILING_TRIGGERS,
    PHASE_DOWN_TRIGGERS,
    PHASE_TRIGGERS,
    AlertThresholds,
    PhaseTriggers,
    TriggerCondition,
)
from infra.advise_report import CostDelta, StackRef, render_json, render_text, span
from infra.advise_verdict import (
    BUSINESS_SIGNALS,
    Advice,
    Combination,
    Outcome,
    Reading,
    comparison_lhs,
    current_series,
    file_reading,
    held_for,
    judge,
    streak_series,
)
from infra.prometheus import Prometheus, PrometheusError

ROOT = Path(__file__).resolve().parent.parent
PHASES = (1, 2, 3, 4)
BusinessData = Mapping[str, Sequence[tuple[date, float]]]

CostEstimate = Callable[[str, int, int, Path], CostDelta | None]
"""(stack, from phase, to phase, stack folder) -> the monthly cost of both phases (None: not estimated)."""
COST_ESTIMATE: CostEstimate | None = None
"""The cost of the move, priced from both phases' plans: ``python -m infra advise`` sets it to
``infra.plan.phase_costs`` (the planner imports the whole composition, so this module does not);
None, or an estimate with unpriced resources, makes the report say "not estimated"."""


class AdviseError(Exception):
    """Bad input (stack file, business file, --at): exit status 2."""


@dataclass(frozen=True)
class PhaseRules:
    """What the advisor evaluates at ``phase``."""

    phase: int
    up: PhaseTriggers | None
    down: PhaseTriggers | None
    back_up: PhaseTriggers | None
    recorded: frozenset[str]
    """Series the phase's own rules record (to say why a signal is absent)."""
    step_s: int = 3600
    """Resolution of the range queries behind "held for" (the verdicts never depend on it)."""
    combinations: tuple[Combination, ...] = ()
    ceiling: PhaseTriggers | None = None
    """The top phase's conditions for a phase the catalog does not have (``CEILING_TRIGGERS``)."""


def phase_rules(phase: int) -> PhaseRules:
    """The data the rules of ``phase`` are built from; ``PhaseRules.recorded`` from the rules themselves."""
    groups = rule_groups(AlertThresholds.for_phase(phase), phase, {})
    recorded = frozenset(r["record"] for g in groups for r in g["rules"] if "record" in r)
    return PhaseRules(
        phase,
        PHASE_TRIGGERS.get(phase),
        PHASE_DOWN_TRIGGERS.get(phase),
        PHASE_TRIGGERS.get(phase - 1),
        recorded,
        ceiling=CEILING_TRIGGERS.get(phase),
    )


def read_condition(
    prom: Prometheus, c: TriggerCondition, at: float, rules: PhaseRules, business: BusinessData
) -> Reading:
    verdict = prom.query(c.expr, at)
    current = prom.query(current_series(c), at)
    window_value = prom.query(comparison_lhs(c), at)
    signal = prom.query_range(c.signal, at - c.history_s, at, rules.step_s)
    history = at - signal[0][0] if signal else 0.0
    streak = streak_series(c)
    held = (
        held_for(prom.query_range(streak, at - c.window_s, at, rules.step_s), at, c.window_s)
        if streak
        else None
    )
    reading = Reading(verdict, current, window_value, held if signal else None, history if signal else None)
    if verdict is not None:
        return reading
    file_key = BUSINESS_SIGNALS.get(c.signal, ("", ""))[0]
    if file_key and file_key in business:
        return file_reading(c, business[file_key], datetime.fromtimestamp(at, UTC))
    return Reading(
        None,
        current,
        window_value,
        held,
        reading.history_s,
        reason=_why_unknown(c, signal, history, current, rules),
    )


def _why_unknown(
    c: TriggerCondition,
    signal: Sequence[tuple[float, float]],
    history: float,
    current: float | None,
    rules: PhaseRules,
) -> str:
    if not signal:
        if c.signal in BUSINESS_SIGNALS:
            key, metric = BUSINESS_SIGNALS[c.signal]
            where = f"the application exports {metric}, or the business file has `{key}:`"
        elif c.signal not in rules.recorded:
            where = f"the phase {rules.phase} rules do not record it"
        else:
            where = "its exporter or part is not deployed, or the rules are not loaded"
        return f"no series {c.signal} ({where})"
    if history < c.history_s:
        return f"{c.signal} has {span(history)} of history; the rule needs {span(c.history_s)}"
    if current is None and current_series(c) != c.signal:
        return f"no series {current_series(c)} (the rules are not loaded?)"
    return f"{c.signal} has gaps: the rule needs a value {span(c.history_s)} ago"


def advise(prom: Prometheus, rules: PhaseRules, at: float, business: BusinessData) -> Advice:
    def rule(title: str, triggers: PhaseTriggers | None, to: int, combos: Sequence[Combination] = ()):  # type: ignore[no-untyped-def]
        if triggers is None:
            return None
        readings = {c.name: read_condition(prom, c, at, rules, business) for c in triggers.conditions}
        return judge(title, triggers, to, readings, combos)

    p = rules.phase
    up = rule(f"Move up {p} -> {p + 1}", rules.up, p + 1, rules.combinations)
    down = rule(f"Move down {p} -> {p - 1}", rules.down, p - 1)
    # Only a move down that would happen needs the check that the phase below would not undo it.
    back_up = (
        rule(f"Phase {p - 1}'s move-up rule on today's values", rules.back_up, p)
        if (down and down.outcome is Outcome.MET and not (up and up.outcome is Outcome.MET))
        else None
    )
    ceiling = rule(f"Beyond the catalog {p} -> {p + 1} (there is no phase {p + 1})", rules.ceiling, p + 1)
    return Advice(p, up, down, back_up, ceiling)


# ---------------------------------------------------------------- inputs


def stack_ref(stack: str, root: Path, phase: int | None) -> StackRef:
    path = root / f"Pulumi.{stack}.yaml"
    try:
        text = path.read_text()
        config = (yaml.safe_load(text) or {}).get("config") or {}
    except OSError:
        raise AdviseError(f"no stack file {path}") from None
    except (yaml.YAMLError, ValueError) as err:  # PyYAML raises ValueError for 2026-13-01
        raise AdviseError(f"{path} is not valid YAML: {err}") from None
    configured = config.get("phasescale:phase")
    line = next((i for i, s in enumerate(text.splitlines(), 1) if re.match(r"\s*phasescale:phase\s*:", s)), 0)
    chosen = phase if phase is not None else configured
    if chosen not in PHASES or isinstance(chosen, bool):
        raise AdviseError(f"{path}: phasescale:phase is {chosen!r}; expected one of {list(PHASES)}")
    return StackRef(stack, path, line, configured if configured in PHASES else None, chosen)


def load_business(path: Path) -> dict[str, list[tuple[date, float]]]:
    """``key: [{date: 2026-11-20, value: 350}, ...]`` for the keys of ``BUSINESS_SIGNALS``."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise AdviseError(f"cannot read the business file {path}: {err.strerror}") from None
    except (yaml.YAMLError, ValueError) as err:  # PyYAML raises ValueError for 2026-13-01
        raise AdviseError(f"{path} is not valid YAML: {err}") from None
    valid = sorted(k for k, _ in BUSINESS_SIGNALS.values())
    if not isinstance(data, dict):
        raise AdviseError(f"{path}: expected a mapping of {', '.join(valid)} to lists of {{date, value}}")
    out: dict[str, list[tuple[date, float]]] = {}
    for key, entries in data.items():
        if key not in valid:
            raise AdviseError(f"{path}: {key!r} is not a business signal; valid: {', '.join(valid)}")
        if not isinstance(entries, list):
            raise AdviseError(f"{path}: {key} must be a list of {{date: YYYY-MM-DD, value: number}}")
        out[key] = []
        for i, entry in enumerate(entries):
            day, value = (entry.get("date"), entry.get("value")) if isinstance(entry, dict) else (None, None)
            if isinstance(day, str):
                try:
                    day = date.fromisoformat(day)
                except ValueError:
                    day = None
            if not isinstance(day, date) or isinstance(value, bool) or not isinstance(value, int | float):
                raise AdviseError(
                    f"{path}: {key}[{i}] is {entry!r}; expected {{date: YYYY-MM-DD, value: number}}"
                )
            out[key].append((day, float(value)))
    return out


def parse_at(value: str | None) -> float:
    # Whole seconds: range answers come back on the grid of the evaluation time, to the millisecond.
    if value is None:
        return float(int(datetime.now(UTC).timestamp()))
    try:
        return float(int(float(value)))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AdviseError(
            f"--at {value!r}: expected epoch seconds or ISO 8601 (2026-11-27T18:00:00Z)"
        ) from None
    return float(int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()))


# ---------------------------------------------------------------- the command


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml for its phase")
    p.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://localhost:9090")
    p.add_argument("--bearer-token-file", type=Path, help="file holding a bearer token for Prometheus")
    p.add_argument("--business-file", type=Path, help="YAML of business figures the cluster cannot see")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--phase", type=int, help="judge as if the stack were at this phase")
    p.add_argument("--at", help="evaluate at this time (ISO 8601 or epoch seconds; default now)")
    p.add_argument("--dir", type=Path, default=None, help="folder of the stack files (default: project)")


def run(
    args: argparse.Namespace, rules_for: Callable[[int], PhaseRules] | None = None
) -> tuple[int, str, str]:
    """(exit status, stdout, stderr). Input errors exit 2, an unanswering Prometheus 1."""
    try:
        ref = stack_ref(args.stack, args.dir or ROOT, args.phase)
        business = load_business(args.business_file) if args.business_file else {}
        at = parse_at(args.at)
        prom = Prometheus.connect(args.prometheus, args.bearer_token_file)
    except (AdviseError, PrometheusError) as err:
        return 2, "", f"advise: {err}"
    try:
        advice = advise(prom, (rules_for or phase_rules)(ref.phase), at, business)
    except PrometheusError as err:
        return 1, "", f"advise: {err}"
    cost: CostDelta | None = None
    if COST_ESTIMATE is not None and advice.target != ref.phase:
        cost = COST_ESTIMATE(ref.name, ref.phase, advice.target, ref.path.parent)
    render = render_json if args.format == "json" else render_text
    return 0, render(advice, ref, prom.url, at, cost), ""
