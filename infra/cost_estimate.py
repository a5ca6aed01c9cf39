"""What an estimate is (its lines and the resources it could not price) and the budget check on it.
``infra/cost.py`` builds estimates from a plan's records and re-exports these names."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.problems import Problem
from infra.cost_config import UsageConfig as Usage


@dataclass(frozen=True)
class Line:
    region: str
    part: str
    resource: str
    detail: str
    low: float
    high: float


@dataclass(frozen=True)
class Unpriced:
    resource: str
    type: str
    what: str

    def render(self) -> str:
        return f"{self.type} {self.resource}: no price for {self.what} in infra/prices.yaml"


@dataclass
class Estimate:
    lines: list[Line] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    @property
    def low(self) -> float:
        return round(sum(line.low for line in self.lines), 2)

    @property
    def high(self) -> float:
        return round(sum(line.high for line in self.lines), 2)

    def by(self, key: str) -> dict[str, tuple[float, float]]:
        """``{region or part: (low, high)}`` summed over the lines."""
        out: dict[str, tuple[float, float]] = {}
        for line in self.lines:
            k = getattr(line, key)
            lo, hi = out.get(k, (0.0, 0.0))
            out[k] = (lo + line.low, hi + line.high)
        return {k: (round(lo, 2), round(hi, 2)) for k, (lo, hi) in out.items()}


class UnpricedError(Exception):
    def __init__(self, unpriced: list[Unpriced]):
        self.unpriced = unpriced
        super().__init__("\n".join(u.render() for u in unpriced))


BUDGET_KEY = "phasescale:budgetUsdPerMonth"


def budget_problems(est: Estimate, budget: float | None) -> list[Problem]:
    """The budget check: the estimate's minimum (the autoscalers' floor) may not exceed the budget
    a phase move was approved against; an estimate with unpriced resources cannot be checked."""
    if budget is None:
        return []
    if est.unpriced:
        names = ", ".join(sorted({u.type for u in est.unpriced}))
        return [Problem(BUDGET_KEY, budget, f"a stack whose estimate is complete; unpriced: {names} (python -m infra cost)")]
    if est.low > budget:
        return [Problem(BUDGET_KEY, budget, f"at least the estimate's minimum, ${est.low:,.2f} per month "
                        f"(python -m infra cost lists it), or a smaller phase/override")]
    return []


def require_priced(est: Estimate) -> Estimate:
    if est.unpriced:
        raise UnpricedError(est.unpriced)
    return est
