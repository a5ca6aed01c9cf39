"""The phase advisor's report (pure): plain text for the meeting, JSON for a CI job or a Slack bot."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.monitoring.thresholds import Hold, TriggerCondition, duration
from infra.advise_verdict import (
    BUSINESS_SIGNALS,
    Action,
    Advice,
    ConditionResult,
    RuleResult,
    missing_business,
)


@dataclass(frozen=True)
class StackRef:
    name: str
    path: Path
    line: int
    """Line of ``phasescale:phase`` in the stack file (0: not found)."""
    configured: int | None
    phase: int
    """The phase judged (``--phase`` or the configured one)."""


@dataclass(frozen=True)
class CostDelta:
    """Monthly cost of the current and the target phase (at the autoscalers' minimum and maximum)."""

    from_usd: tuple[float, float]
    to_usd: tuple[float, float]

    @property
    def delta_usd(self) -> tuple[float, float]:
        return self.to_usd[0] - self.from_usd[0], self.to_usd[1] - self.from_usd[1]


COST_UNAVAILABLE = "not estimated: the price table lacks some of the stack's resources (`python -m infra cost` lists them)"


def num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    d, rest = divmod(round(seconds), 86_400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    parts = [f"{d}d"] * bool(d) + [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m and not d)
    return " ".join(parts) or "0m"


def compared(c: TriggerCondition) -> str:
    w = duration(c.window_s)
    if c.hold is Hold.DAILY_PEAK:
        return f"lowest daily peak over {w}"
    if c.hold is Hold.AVERAGE:
        return f"mean over {w}"
    return f"{'max' if c.op == '<' else 'min'} over {w}"


def _condition_line(r: ConditionResult) -> list[str]:
    c, rd = r.condition, r.reading
    if rd.history_s is None:
        held = "held -"
    elif c.hold is Hold.AVERAGE:
        held = "a mean has no streak"
    else:
        held = f"held {span(rd.held_s)} of {span(c.window_s)}"
    head = f"  {r.state.value:<8} {c.name}: {c.description}"
    detail = (
        f"           now {num(rd.current)}, {compared(c)} {num(rd.window_value)}, threshold {c.op} {num(c.threshold)}, "
        f"{held}, history {span(rd.history_s)} of {span(c.history_s)}"
    )
    lines = [head, detail + (f" [{rd.source}]" if rd.source != "prometheus" else "")]
    if rd.reason:
        lines.append(f"           unknown: {rd.reason}")
    return lines


def _rule_lines(rule: RuleResult) -> list[str]:
    lines = [f"{rule.title}: {rule.holding} of {len(rule.results)} hold, {rule.unknown} unknown, "
             f"needs {rule.required} -> {rule.outcome.value}"]  # fmt: skip
    for r in rule.results:
        lines += _condition_line(r)
    if rule.combinations:
        got = rule.combination_verdicts
        lines.append(
            f"  seed-003 checkpoint: {', '.join(got) if got else 'none of ' + ', '.join(c.name for c in rule.combinations)}"
        )
    return lines


def next_steps(advice: Advice, ref: StackRef) -> list[str]:
    p, t = ref.phase, advice.target
    if advice.action in (Action.MOVE_UP, Action.MOVE_DOWN):
        where = f"{ref.path.name} line {ref.line}" if ref.line else ref.path.name
        return [
            f"python -m infra diff --stack {ref.name} --from-phase {p} --to-phase {t}"
            "   (read every STATEFUL line first)",
            f"{where}: phasescale:phase: {ref.configured if ref.configured is not None else p}  ->  phasescale:phase: {t}",
            f"pulumi preview --stack {ref.name}, then pulumi up --stack {ref.name}",
        ]
    if advice.action is Action.OUTGROWING:
        return [
            f"there is no phase {p + 1}: grow phase {p} in {ref.path.name} with phasescale:overrides (or "
            f"phasescale:phaseOverrides.{p}): services.maxReplicas, nodes.maxNodes and dataNodes.maxNodes, "
            "postgres.readReplicas / cpu / memoryGib, redis.shards, gpu.maxReplicas and spotMaxNodes",
            "add regions to phasescale:regions where the users are (every listed region runs at the top phase)",
            f"python -m infra plan --stack {ref.name} --phase {p} (the scheduling check must pass), then "
            f"pulumi preview --stack {ref.name}",
            "when overrides no longer suffice, the catalog needs a phase 5 (infra/catalog.py): a design change, "
            "not a config value; file an issue with this report",
        ]
    if advice.action is Action.UNDECIDED:
        return ["make the unknown series available (see each 'unknown:' line), then run advise again"]
    return [f"nothing to change: {ref.path.name} stays at phasescale:phase: {p}"]


def _cost_text(advice: Advice, cost: CostDelta | None) -> str:
    if advice.target == advice.phase:
        return "no move, no cost change"
    if cost is None:
        return COST_UNAVAILABLE
    lo, hi = cost.delta_usd
    return f"${lo:+,.0f} to ${hi:+,.0f} a month (phase {advice.phase}: ${cost.from_usd[0]:,.0f}-{cost.from_usd[1]:,.0f}, phase {advice.target}: ${cost.to_usd[0]:,.0f}-{cost.to_usd[1]:,.0f})"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_text(advice: Advice, ref: StackRef, url: str, at: float, cost: CostDelta | None) -> str:
    judged = (
        ""
        if ref.configured == ref.phase
        else f" (judged as phase {ref.phase}; the stack file says {ref.configured})"
    )
    lines = [f"Stack {ref.name} at phase {ref.configured}{judged}: metrics from {url} at {_when(at)}", ""]
    for rule in (advice.up, advice.ceiling, advice.down, advice.back_up):
        if rule is not None:
            lines += [*_rule_lines(rule), ""]
    if advice.up is None:
        lines += [f"Phase {advice.phase} is the last phase: no move up.", ""]
    if advice.down is None:
        lines += [f"Phase {advice.phase} is the first phase: no move down.", ""]
    verdict = advice.action.value.upper() + (
        f" to phase {advice.target}" if advice.target != advice.phase else ""
    )
    lines.append(f"Verdict: {verdict} - {advice.why}")
    missing = missing_business((advice.up, advice.ceiling, advice.down, advice.back_up))
    if missing:
        lines.append("Business signals missing (export the metric or add the key to --business-file): "
                     + ", ".join(f"{k} ({_metric(k)})" for k in missing))  # fmt: skip
    lines.append(f"Cost of the move: {_cost_text(advice, cost)}")
    lines.append("Next step:")
    lines += [f"  {i}. {s}" for i, s in enumerate(next_steps(advice, ref), 1)]
    return "\n".join(lines)


def _metric(key: str) -> str:
    return next(m for k, m in BUSINESS_SIGNALS.values() if k == key)


def _rule_json(rule: RuleResult | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "from_phase": rule.from_phase, "to_phase": rule.to_phase, "required": rule.required,
        "holding": rule.holding, "unknown": rule.unknown, "outcome": rule.outcome.value,
        "checkpoints": list(rule.combination_verdicts),
        "conditions": [
            {"name": r.condition.name, "description": r.condition.description, "state": r.state.value,
             "expr": r.condition.expr, "op": r.condition.op, "threshold": r.condition.threshold,
             "current": r.reading.current, "compared": r.reading.window_value,
             "held_s": r.reading.held_s, "window_s": r.condition.window_s,
             "history_s": r.reading.history_s, "history_needed_s": r.condition.history_s,
             "source": r.reading.source, "reason": r.reading.reason or None}
            for r in rule.results
        ],
    }  # fmt: skip


def render_json(advice: Advice, ref: StackRef, url: str, at: float, cost: CostDelta | None) -> str:
    doc = {
        "stack": ref.name, "stack_file": str(ref.path), "phase": ref.phase, "configured_phase": ref.configured,
        "prometheus": url, "at": datetime.fromtimestamp(at, UTC).isoformat(),
        "action": advice.action.value, "target_phase": advice.target, "why": advice.why,
        "move_up": _rule_json(advice.up), "move_down": _rule_json(advice.down),
        "phase_below_move_up": _rule_json(advice.back_up),
        "business_missing": missing_business((advice.up, advice.ceiling, advice.down, advice.back_up)),
        "cost": None if cost is None else {"from_usd": list(cost.from_usd), "to_usd": list(cost.to_usd),
                                           "delta_usd": list(cost.delta_usd)},
        "cost_note": _cost_text(advice, cost),
        "next_steps": next_steps(advice, ref),
        "beyond_catalog": _rule_json(advice.ceiling),
    }  # fmt: skip
    return json.dumps(doc, indent=2)
