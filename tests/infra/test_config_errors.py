"""Bad stack files as a new user writes them: exit 2 with every problem (path, value, what is valid),
never a traceback, never a key silently ignored. Each test is a representative file of one class."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pulumi
import pytest

from components.problems import ConfigError
from infra import plan as planner
from infra.__main__ import main
from infra.load import load
from infra.settings import resolve_all

FULLWIDTH_TWO = "\uff12"
GKE = """\
config:
  phasescale:phase: 2
  phasescale:environment: production
  phasescale:cluster: {target: gke, gcpProject: proj, apiAllowedCidrs: [198.51.100.0/24]}
  phasescale:regions:
    seoul: {location: asia-northeast3}
"""


def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes, *args: str) -> list[str]:
    """Run ``plan`` on ``text`` as ``Pulumi.t.yaml``; assert exit 2 without traceback; the problem lines."""
    path = tmp_path / "Pulumi.t.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))
    assert main(["plan", "--stack", "t", "--dir", str(tmp_path), *args]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and out == ""
    lines = err.splitlines()
    assert lines[0] == f"{len(lines) - 1} config problem(s):"
    return [line.removeprefix("  - ") for line in lines[1:]]


# --- (1) every top-level key known; duplicate keys ---------------------------------------------


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("phasescal:environment", "did you mean phasescale:environment? "),
        ("PhaseScale:environment", "did you mean phasescale:environment? "),
        ("phasescales:environment", "did you mean phasescale:environment? "),
    ],
)
def test_a_namespace_typo_is_an_error_not_a_development_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, hint: str
) -> None:
    text = GKE.replace("phasescale:environment: production", f"{key}: production")
    ns = key.partition(":")[0]
    assert cli(tmp_path, capsys, text) == [
        f"{key}: got 'production'; unknown namespace {ns!r}; {hint}valid namespaces: phasescale, gcp, aws, "
        "kubernetes, pulumi"
    ]


def test_unknown_phasescale_key_suggests_the_nearest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (got,) = cli(tmp_path, capsys, GKE + "  phasescale:overides: {nodes: {maxNodes: 4}}\n")
    assert got.startswith("phasescale:overides: got {'nodes': {'maxNodes': 4}}; unknown key; did you mean "
                          "phasescale:overrides? valid keys: alerts, budgetUsdPerMonth, cdn, ")


def test_key_without_namespace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (got,) = cli(tmp_path, capsys, GKE + "  environment: staging\n")
    assert got.startswith("environment: got 'staging'; a namespaced key; did you mean phasescale:environment? ")


def test_provider_keys_pass(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(GKE + "  gcp:project: proj\n  aws:region: ap-northeast-2\n  kubernetes:context: x\n  pulumi:tags: {a: b}\n")
    raw, secret = planner.read_stack_config(path)
    assert resolve_all(raw, secret).problems == []


def test_duplicate_keys_are_errors_at_their_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GKE + """\
  phasescale:services:
    api: {image: "ghcr.io/a/api:1"}
    web: {image: "ghcr.io/a/web:1"}
    api: {image: "ghcr.io/a/api:2", port: 9000}
  phasescale:phase: 3
"""
    assert cli(tmp_path, capsys, text) == [
        "phasescale:phase: got 'line 11'; each key once per mapping (YAML would keep only the last)",
        "phasescale:services.api: got 'line 10'; each key once per mapping (YAML would keep only the last)",
    ]


# --- (2) no traceback: malformed files ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n\tphasescale:phase: 2\n", "got 'line 2, column 1'; valid YAML, one document, no tags: found character '\\t'"),
        ("config: {phasescale:phase: 2\n", "got 'line 2, column 1'; valid YAML, one document, no tags: expected ',' or '}'"),
        ("config: {}\n---\nconfig: {}\n", "got 'line 2, column 1'; valid YAML, one document, no tags: several documents"),
        ("config: !!python/object:os.system {}\n", "got 'line 1, column 9'; valid YAML, one document, no tags: could not "
         "determine a constructor"),
    ],
    ids=["tab", "unclosed-brace", "two-documents", "python-tag"],
)
def test_malformed_yaml_is_one_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    (got,) = cli(tmp_path, capsys, text)
    assert got.startswith(f"{tmp_path / 'Pulumi.t.yaml'}: {expected}")


def test_binary_and_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = tmp_path / "Pulumi.t.yaml"
    assert cli(tmp_path, capsys, b"\x89PNG\r\n\x1a\n\x00\x00") == [f"{where}: got 'byte 0'; a UTF-8 text file (YAML)"]
    assert cli(tmp_path, capsys, b"config:\x00\n") == [f"{where}: got 'binary content'; a YAML text file"]
    if os.geteuid() != 0:  # root reads anything
        where.chmod(0)
        assert cli(tmp_path, capsys, b"")[0].endswith("a readable stack file")
    where.unlink()
    where.mkdir()
    assert main(["plan", "--stack", "t", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines()[1] == f"  - {where}: got 'Is a directory'; a readable stack file"


@pytest.mark.parametrize(("text", "shown"), [("config: [a, b]\n", "a list"), ("config: production\n", "a string")])
def test_config_that_is_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, shown: str) -> None:
    assert cli(tmp_path, capsys, text) == [f"config: got {shown!r}; a mapping of phasescale:<key>: value"]


def test_document_that_is_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, capsys, "- config\n") == [f"{tmp_path / 'Pulumi.t.yaml'}: got 'list'; a mapping with a config: key"]


# --- (2) no traceback: CIDRs and phases ---------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        ("10.0.0.1/16", "10.0.0.1/16 has host bits set"),
        ("10.0.999.0/16", "Octet 999 (> 255) not permitted in '10.0.999.0'"),
        ("10.0.0.0/33", "'33' is not a valid netmask"),
        ("010.0.0.0/16", "Leading zeros are not permitted in '010' in '010.0.0.0'"),
    ],
)
def test_malformed_vpc_cidr(tmp_path: Path, capsys: pytest.CaptureFixture[str], cidr: str, why: str) -> None:
    text = GKE.replace("{location: asia-northeast3}", f"{{location: asia-northeast3, vpcCidr: {cidr}}}")
    assert cli(tmp_path, capsys, text) == [
        f"phasescale:regions.seoul.vpcCidr: got {cidr!r}; an IPv4 CIDR such as 10.0.0.0/16 ({why})"
    ]


@pytest.mark.parametrize(("target", "cidr", "zones"), [("gke", "10.0.0.0/20", ""), ("eks", "10.0.0.0/24", ""),
                                                       ("eks", "10.0.0.0/16", ", zones: [ap-northeast-2a, ap-northeast-2b, "
                                                        "ap-northeast-2c, ap-northeast-2d]")])
def test_vpc_too_small_for_the_zones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, cidr: str, zones: str
) -> None:
    location = {"gke": "asia-northeast3", "eks": "ap-northeast-2"}[target]
    text = GKE.replace("target: gke, gcpProject: proj,", "target: eks," if target == "eks" else "target: gke, gcpProject: proj,")
    text = text.replace("{location: asia-northeast3}", f"{{location: {location}, vpcCidr: {cidr}{zones}}}")
    got = cli(tmp_path, capsys, text)
    assert [g.split(";")[0] for g in got] == [f"phasescale:regions.seoul.vpcCidr: got {cidr!r}"]
    assert "a range large enough" in got[0]


@pytest.mark.parametrize("phase", ["\u00b2", FULLWIDTH_TWO, "2.5", "true", "two"])
def test_phase_with_unicode_digits_or_words(tmp_path: Path, capsys: pytest.CaptureFixture[str], phase: str) -> None:
    got = cli(tmp_path, capsys, GKE.replace("phasescale:phase: 2", f"phasescale:phase: {phase}"))
    assert [g.split(";")[0] for g in got] == [f"phasescale:phase: got {phase!r}"]


def test_phase_flag_rejects_a_fullwidth_digit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--stack", "dev", "--phase", FULLWIDTH_TWO])
    assert exit_.value.code == 2
    assert f"'{FULLWIDTH_TWO}' is not a phase; valid: 1, 2, 3, 4" in capsys.readouterr().err


# --- (3) all stages at once ---------------------------------------------------------------------


def test_schema_error_does_not_hide_cross_key_and_part_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GKE.replace("target: gke, gcpProject: proj,", "target: eks,") + """\
  phasescale:services:
    api: {image: "ghcr.io/a/api:1", port: 99999, callers: [webb]}
  phasescale:postgres: {engine: cloudsql}
"""
    got = cli(tmp_path, capsys, text)
    assert [g.split(";")[0] for g in got] == [
        "phasescale:postgres.engine: got 'cloudsql'",  # the part's check (engine vs target) still runs
        "phasescale:regions.seoul.location: got 'asia-northeast3'",  # cross-key: not an AWS region
        "phasescale:services.api.callers: got 'webb'",  # cross-key
        "phasescale:services.api.port: got 99999",  # schema
    ]


def test_bad_phase_does_not_hide_override_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GKE.replace("phasescale:phase: 2", "phasescale:phase: 7") + "  phasescale:overrides: {postgres: {readReplicas: 50}}\n"
    assert cli(tmp_path, capsys, text) == [
        "phasescale:overrides.postgres.readReplicas: got 50; Input should be less than or equal to 10",
        "phasescale:phase: got 7; Input should be less than or equal to 4",
    ]


# --- (4) clear messages ----------------------------------------------------------------------------


def test_unknown_phase_in_phase_replicas_blames_that_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GKE + '  phasescale:services:\n    api: {image: "ghcr.io/a/api:1", phaseReplicas: {"7": {min: 1, max: 2}}}\n'
    assert cli(tmp_path, capsys, text) == [
        "phasescale:services.api.phaseReplicas.7: got '7'; Input should be less than or equal to 4"
    ]


def test_yaml_null_is_shown_as_null(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GKE + '  phasescale:namespace:\n  phasescale:services:\n    api: {image: "ghcr.io/a/api:1", port: null}\n'
    assert cli(tmp_path, capsys, text) == [
        "phasescale:namespace: got null; a value; remove the key to use the default",
        "phasescale:services.api.port: got null; Input should be a valid integer",
    ]


def test_boolean_is_not_a_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GKE + '  phasescale:services:\n    api: {image: "ghcr.io/a/api:1", port: true}\n'
    assert cli(tmp_path, capsys, text) == ["phasescale:services.api.port: got true; a number, not the boolean true"]


def test_pulumi_up_raises_one_run_error_with_every_problem() -> None:
    raw = {
        "phasescal:environment": "production",
        "phasescale:phase": "\u00b2",
        "phasescale:cluster": '{"target": "gke"}',
        "phasescale:regions": '{"a": {"location": "x"}}',
    }
    with pytest.raises(pulumi.RunError) as err:
        planner.record(planner.pulumi_program, "t", raw)
    assert str(err.value).splitlines() == [
        "4 config problem(s):",
        "  - phasescal:environment: got 'production'; unknown namespace 'phasescal'; did you mean "
        "phasescale:environment? valid namespaces: phasescale, gcp, aws, kubernetes, pulumi",
        "  - phasescale:cluster.gcpProject: got None; required for cluster.target gke",
        "  - phasescale:phase: got '\u00b2'; a number written with the digits 0-9",
        "  - phasescale:regions.a.location: got 'x'; a Google Cloud region for cluster.target gke (this is no region), "
        "e.g. asia-northeast3",
    ]


def test_an_override_error_does_not_hide_the_parts_checks_on_the_others() -> None:
    raw, secret = planner.read_stack_config(planner.stack_file("prod"))
    raw["phasescale:overrides"] = json.dumps({"postgres": {"readReplicas": -1}, "gpu": {"tensorParallelSize": 3}})
    with pytest.raises(ConfigError) as err:
        load(raw, secret, "prod")
    assert [(p.path, p.value) for p in err.value.problems] == [
        ("phasescale:overrides.gpu.tensorParallelSize", 3),  # the GPU part's checks (heads, GPUs per node)
        ("phasescale:overrides.gpu.tensorParallelSize", 3),
        ("phasescale:overrides.postgres.readReplicas", -1),  # the schema
    ]
