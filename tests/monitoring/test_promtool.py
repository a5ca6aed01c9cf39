"""Alert/recording rules, proven with promtool.

Every rule file and promtool unit test is generated into tmp_path. All promtool unit tests run in one
``promtool test rules`` call (module fixture); a second call proves that a wrong expectation fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from components.monitoring.alert_rules import signal_rules
from components.monitoring.thresholds import (
    CEILING_TRIGGERS,
    PHASE_DOWN_TRIGGERS,
    PHASE_TRIGGERS,
    MetricSources,
)
from tests.monitoring.level_cases import SEED_000, SEED_004, configured_groups, seed_000_tests, seed_004_tests
from tests.monitoring.rule_cases import (
    ALERT_CASES,
    ALERT_NAMES,
    PG_EXPORTER,
    _exp_alerts,
    alert_case_tests,
    groups_for,
)
from tests.monitoring.trigger_cases import (
    SIGNAL_CASES,
    first_phase_using,
    scaled,
    scaled_groups,
    signal_case_test,
    trigger_scenario,
)
from tests.promtool import run_all, tool, write_yaml

# ---------------------------------------------------------------- the promtool runs


def rule_files(tmp: Path) -> dict[str, list[dict[str, Any]]]:
    """Rule groups by file key: each phase, the postgres_exporter variant, time-scaled triggers."""
    out = {f"phase{p}": groups_for(p) for p in (1, 2, 3, 4)}
    out["pg-exporter"] = groups_for(1, PG_EXPORTER)
    out |= {f"scaled{p}": scaled_groups(p) for p in sorted(PHASE_TRIGGERS.keys() | PHASE_DOWN_TRIGGERS.keys())}
    out |= {"seed004": configured_groups(SEED_004), "seed000": configured_groups(SEED_000)}
    return out


def _metrics(test: Mapping[str, Any]) -> set[str]:
    return {s["series"].split("{")[0] for s in test["input_series"]}


def pack(tests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge test groups that cannot disturb each other (same interval, no shared metric, no shared
    alertname): promtool builds a fresh TSDB per group, the main cost of a run."""
    packed: list[dict[str, Any]] = []
    for test in tests:
        alerts = {t["alertname"] for t in test.get("alert_rule_test", [])}
        for group in packed:
            if (
                group["interval"] == test["interval"]
                and not _metrics(group) & _metrics(test)
                and not alerts & {t["alertname"] for t in group.get("alert_rule_test", [])}
            ):
                group["name"] += "; " + test["name"]
                for key in ("input_series", "alert_rule_test", "promql_expr_test"):
                    group.setdefault(key, []).extend(test.get(key, []))
                break
        else:
            packed.append({k: list(v) if isinstance(v, list) else v for k, v in test.items()})
    return packed


def unit_test_files(tmp: Path, rules: Mapping[str, list[dict[str, Any]]]) -> list[Path]:
    by_file: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for case in ALERT_CASES:
        by_file.setdefault(("pg-exporter" if case.sources else "phase1", "1m"), []).extend(
            alert_case_tests(case)
        )
    for signal, scase in SIGNAL_CASES.items():
        by_file.setdefault((f"phase{first_phase_using(signal)}", scase.interval), []).append(
            signal_case_test(signal, scase)
        )
    for phase, triggers in PHASE_TRIGGERS.items():
        by_file.setdefault((f"scaled{phase}", "5m"), []).extend(
            trigger_scenario(scaled(triggers), n) for n in (triggers.required, triggers.required - 1)
        )
    # The move-down conditions, recorded at every phase with a move down (the last one too).
    for phase, down in PHASE_DOWN_TRIGGERS.items():
        by_file.setdefault((f"scaled{phase}", "5m"), []).extend(
            trigger_scenario(scaled(down), n, move_down=True) for n in (down.required, down.required - 1)
        )
    # Configured levels (phasescale:alerts): seed 004's and seed 000's figures.
    for test in seed_004_tests():
        by_file.setdefault(("seed004", test["interval"]), []).append(test)
    by_file.setdefault(("seed000", "1m"), []).extend(seed_000_tests())
    # The top phase's ceiling (no phase to move to): its records, all of them or one short.
    for phase, ceiling in CEILING_TRIGGERS.items():
        by_file.setdefault((f"scaled{phase}", "5m"), []).extend(
            trigger_scenario(scaled(ceiling), n, move_down=True, kind="ceiling")
            for n in (ceiling.required, ceiling.required - 1)
        )
    out = []
    for (key, every), tests in sorted(by_file.items()):
        tests = pack(tests)
        out.append(write_yaml(tmp / f"test-{key}-{every}.yml", {
            "rule_files": [str(tmp / f"rules-{key}.yml")], "evaluation_interval": every,
            "group_eval_order": [g["name"] for g in rules[key]], "tests": tests,
        }))  # fmt: skip
    return out


def wrong_expectation_files(tmp: Path) -> list[Path]:
    """GPUScaleUpNeeded expected one minute early, and with a wrong value: promtool must reject both."""
    gpu = ALERT_CASES[0]
    good = alert_case_tests(gpu)[0]
    check = good["alert_rule_test"][0]
    wrong_value = _exp_alerts(groups_for(1), gpu.alert, [({"severity": "warning"}, 88)])
    bad = {"early": {**check, "eval_time": "4m"}, "wrong": {**check, "exp_alerts": wrong_value}}
    return [
        write_yaml(tmp / f"bad-{name}.yml",
                   {"rule_files": [str(tmp / "rules-phase1.yml")], "tests": [{**good, "alert_rule_test": [test]}]})
        for name, test in bad.items()
    ]  # fmt: skip


@pytest.fixture(scope="module")
def promtool_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every promtool run, side by side: check, the unit tests in two halves (two cores), the bad tests."""
    promtool = tool("promtool")
    tmp = tmp_path_factory.mktemp("promtool")
    rules = rule_files(tmp)
    paths = [write_yaml(tmp / f"rules-{key}.yml", {"groups": groups}) for key, groups in rules.items()]
    tests = sorted(unit_test_files(tmp, rules), key=lambda p: p.stat().st_size, reverse=True)
    results = run_all({
        "check": [promtool, "check", "rules", *map(str, paths)],
        "test-a": [promtool, "test", "rules", *map(str, tests[0::2])],
        "test-b": [promtool, "test", "rules", *map(str, tests[1::2])],
        "bad": [promtool, "test", "rules", *map(str, wrong_expectation_files(tmp))],
    })  # fmt: skip
    return {**results, "tests": tests, "rules": rules}


def test_promtool_accepts_every_rule_file(promtool_results: dict[str, Any]) -> None:
    res = promtool_results["check"]
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == len(promtool_results["rules"])


def test_promtool_unit_tests_pass(promtool_results: dict[str, Any]) -> None:
    for half in ("test-a", "test-b"):
        res = promtool_results[half]
        assert res.returncode == 0, res.stdout + res.stderr
    passed = sum(promtool_results[h].stdout.count("SUCCESS") for h in ("test-a", "test-b"))
    assert passed == len(promtool_results["tests"])


def test_promtool_unit_tests_cover_every_alert_and_signal() -> None:
    cased = {c.alert for c in ALERT_CASES} | {"PhaseUpgradeRecommended"}
    assert cased == ALERT_NAMES
    assert set(SIGNAL_CASES) == set(signal_rules(MetricSources()))


def test_wrong_expectations_make_promtool_fail(promtool_results: dict[str, Any]) -> None:
    """The harness can fail: firing one minute early, or with a wrong value, is rejected."""
    res = promtool_results["bad"]
    assert res.returncode != 0
    assert (res.stdout + res.stderr).count("FAILED") == 2, res.stdout + res.stderr
