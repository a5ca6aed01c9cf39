"""Renders ``infra/cost.py`` estimates: ``python -m infra cost`` (text or JSON), the total line of
``plan`` and the delta line of ``diff``."""

from __future__ import annotations

import json

from infra.cost import Estimate


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _against(est: Estimate, budget: float | None) -> str:
    if budget is None:
        return ""
    return f"; budget {_usd(budget)}: {'within' if est.low <= budget else 'EXCEEDED at the minimum'}"


def total_line(est: Estimate, budget: float | None = None) -> str:
    """One line for ``plan``: the total (against the budget), or which resources keep it from being one."""
    if est.unpriced:
        return f"cost: not estimated, {len(est.unpriced)} resources unpriced (python -m infra cost lists them)"
    return f"cost: {_usd(est.low)} - {_usd(est.high)} per month (autoscalers' minimum - maximum){_against(est, budget)}"


def delta_line(before: Estimate, after: Estimate) -> str:
    """One line for ``diff``: what the move changes in the monthly cost."""
    if before.unpriced or after.unpriced:
        return "COST not estimated: unpriced resources (python -m infra cost lists them)"
    lo, hi = after.low - before.low, after.high - before.high
    return (
        f"COST {lo:+,.2f} USD/month at the minimum ({_usd(before.low)} -> {_usd(after.low)}), "
        f"{hi:+,.2f} at the maximum ({_usd(before.high)} -> {_usd(after.high)})"
    )


def beside_stateful(diff_text: str, delta: str) -> str:
    """The diff with the cost delta right after its STATEFUL lines (after the heading if none)."""
    lines = diff_text.splitlines()
    marks = [n for n, line in enumerate(lines) if line.startswith("STATEFUL")]
    at = marks[-1] + 1 if marks else min(1, len(lines))
    return "\n".join([*lines[:at], delta, *lines[at:]])


def as_dict(est: Estimate, stack: str, phase: int) -> dict[str, object]:
    return {
        "stack": stack,
        "phase": phase,
        "currency": "USD",
        "period": "month",
        "total": {"min": est.low, "max": est.high} if not est.unpriced else None,
        "regions": {k: {"min": lo, "max": hi} for k, (lo, hi) in sorted(est.by("region").items())},
        "parts": {k: {"min": lo, "max": hi} for k, (lo, hi) in sorted(est.by("part").items())},
        "lines": [
            {"region": x.region, "part": x.part, "resource": x.resource, "detail": x.detail, "min": x.low, "max": x.high}
            for x in est.lines
        ],
        "unpriced": [{"type": u.type, "resource": u.resource, "missing": u.what} for u in est.unpriced],
        "assumptions": est.usage.render(),
    }


def render(est: Estimate, stack: str, phase: int, fmt: str = "text", budget: float | None = None) -> str:
    if fmt == "json":
        return json.dumps({**as_dict(est, stack, phase), "budget": budget}, indent=1, sort_keys=True)
    out = [f"stack {stack}, phase {phase}: monthly cost, USD, at the autoscalers' minimum / maximum"]
    for region in sorted({x.region for x in est.lines}):
        lines = [x for x in est.lines if x.region == region]
        out.append(f"  {region}: {_usd(sum(x.low for x in lines))} / {_usd(sum(x.high for x in lines))}")
        for x in lines:
            out.append(f"    {x.part:<22} {x.resource:<44} {_usd(x.low):>12} / {_usd(x.high):>12}  {x.detail}")
    out.append("  by part: " + ", ".join(f"{k} {_usd(lo)} / {_usd(hi)}" for k, (lo, hi) in sorted(est.by("part").items())))
    if est.unpriced:
        out.append(f"  UNPRICED ({len(est.unpriced)}): no total until infra/prices.yaml has these figures")
        out += [f"    {u.render()}" for u in est.unpriced]
    else:
        out.append(f"  total: {_usd(est.low)} / {_usd(est.high)}{_against(est, budget)}")
    out.append(f"  {est.usage.render()}")
    return "\n".join(out)


def readme_table(estimates: dict[tuple[str, int], Estimate]) -> str:
    """The README's table: per stack and phase, what is priced (minimum / maximum by part group)
    and how many resources are not, so the table never shows a partial sum as a total."""

    def cell(est: Estimate, parts: tuple[str, ...]) -> str:
        lo = sum(x.low for x in est.lines if x.part in parts)
        hi = sum(x.high for x in est.lines if x.part in parts)
        return f"{lo:,.0f} / {hi:,.0f}" if lo or hi else "-"

    rows = [
        "| stack | phase | cluster fee + system + data pools | volumes (PostgreSQL, Milvus, monitoring, logs, queue) | "
        "GPU on-demand | GPU spot (0 at the minimum) | buckets, LB, CDN, NAT, IPs, keys | total | unpriced resources |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (stack, phase), est in sorted(estimates.items()):
        base = cell(est, ("cluster fee", "system pool", "data pool", "node pool"))
        other = cell(est, ("buckets", "cdn and load balancers", "nat", "keys"))
        total = f"{est.low:,.0f} / {est.high:,.0f}" if not est.unpriced else "not estimated"
        missing = ", ".join(sorted({u.type.split(":", 1)[1] for u in est.unpriced})) or "none"
        rows.append(
            f"| {stack} | {phase} | {base} | {cell(est, ('postgres', 'milvus', 'monitoring', 'volumes', 'logging', 'queue'))} | {cell(est, ('gpu on-demand',))} | {cell(est, ('gpu spot',))} | "
            f"{other} | {total} | {len(est.unpriced)}: {missing} |"
        )
    return "\n".join(rows)
