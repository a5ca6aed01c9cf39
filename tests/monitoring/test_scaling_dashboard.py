"""The scaling-decision dashboard reads the same rules as ``infra advise``: the recorded signals of
the phase's triggers against their thresholds, and the move-down conditions' own expressions."""

from __future__ import annotations

from typing import Any

import pytest

from components.monitoring.dashboards import USER_PHASE_LINES, scaling_dashboard
from components.monitoring.plan import MonitoringPlan, groups
from components.monitoring.thresholds import (
    CEILING_TRIGGERS,
    PHASE_DOWN_TRIGGERS,
    PHASE_TRIGGERS,
    USERS,
    Hold,
)


def _board(phase: int) -> dict[str, Any]:
    return scaling_dashboard(MonitoringPlan(phase=phase, app_namespace="app"))


def _titled(board: dict[str, Any], start: str) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["title"].startswith(start)]


def _lines(panel: dict[str, Any]) -> list[float | None]:
    return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_each_move_up_trigger_is_its_recorded_series_against_its_threshold(phase: int) -> None:
    records = {
        r["record"]
        for g in groups(MonitoringPlan(phase=phase, app_namespace="app"))
        for r in g["rules"]
        if "record" in r
    }
    panels = _titled(_board(phase), "Move up: ")
    conds = PHASE_TRIGGERS[phase].conditions
    assert [p["title"] for p in panels] == [f"Move up: {c.description}" for c in conds]
    for panel, c in zip(panels, conds, strict=True):
        (target,) = panel["targets"]
        assert target["expr"] == (c.peak_record if c.hold is Hold.DAILY_PEAK else c.signal)
        assert target["expr"] in records  # the phase's rules record what the panel shows
        assert _lines(panel) == [None, c.threshold]


@pytest.mark.parametrize("phase", [2, 3, 4])
def test_the_move_down_conditions_are_their_own_expressions(phase: int) -> None:
    down = PHASE_DOWN_TRIGGERS[phase]
    (stat,) = _titled(_board(phase), f"Move down {phase} -> {phase - 1}: conditions holding")
    assert stat["title"].endswith(f"(move at {down.required} of {len(down.conditions)})")
    assert [(t["expr"], t["legendFormat"]) for t in stat["targets"]] == [
        (c.expr, c.name) for c in down.conditions
    ]
    assert len({t["refId"] for t in stat["targets"]}) == len(down.conditions)
    lines = [(p["targets"][0]["expr"], _lines(p)) for p in _titled(_board(phase), "Move down: ")]
    assert lines == [(c.signal, [None, c.threshold]) for c in down.conditions]


def test_the_last_phase_shows_the_catalog_s_ceiling() -> None:
    records = {r["record"] for g in groups(MonitoringPlan(phase=4, app_namespace="app", gpu=True)) for r in g["rules"] if "record" in r}
    panels = _titled(_board(4), "Beyond the catalog: ")
    conds = CEILING_TRIGGERS[4].conditions
    assert [p["title"] for p in panels] == [f"Beyond the catalog: {c.description}" for c in conds]
    for panel, c in zip(panels, conds, strict=True):
        (target,) = panel["targets"]
        assert target["expr"] == (c.peak_record if c.hold is Hold.DAILY_PEAK else c.signal) and target["expr"] in records
        assert _lines(panel) == [None, c.threshold] and panel["description"].startswith(f"phasescale:ceiling:{c.name}: ")
    assert not _titled(_board(3), "Beyond the catalog")


def test_the_first_and_last_phases() -> None:
    assert not _titled(_board(1), "Move down")
    assert not _titled(_board(4), "Move up: ")
    ids = [p["id"] for p in _board(2)["panels"]]
    assert ids == list(range(1, len(ids) + 1))


def test_the_forecast_lines_are_the_signup_triggers() -> None:
    signups = sorted(c.threshold for t in PHASE_TRIGGERS.values() for c in t.conditions if c.signal == USERS)
    assert USER_PHASE_LINES == (*signups, 500_000) == (1000, 10_000, 100_000, 500_000)
    (forecast,) = _titled(_board(2), "Registered users: 30-day forecast")
    assert _lines(forecast) == [None, *USER_PHASE_LINES]
    assert (
        forecast["targets"][1]["expr"]
        == "predict_linear((max(phasescale_users_registered))[7d:1h], 30 * 86400)"
    )
