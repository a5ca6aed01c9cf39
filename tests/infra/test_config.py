"""Config validation: every mistake reported at once, with its path, the value and what is valid."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.problems import ConfigError
from infra import catalog
from infra.settings import resolve

BASE = {
    "phasescale:phase": "2",
    "phasescale:cluster": json.dumps({"target": "existing"}),
    "phasescale:regions": json.dumps({"local": {"location": "local", "kubeContext": "kind"}}),
}


def raw(**extra: object) -> dict[str, str]:
    out = dict(BASE)
    for key, value in extra.items():
        out[f"phasescale:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def problems(config: dict[str, str], secret_keys: frozenset[str] = frozenset()) -> list[str]:
    with pytest.raises(ConfigError) as err:
        resolve(config, secret_keys)
    return [p.render() for p in err.value.problems]


def test_valid_config_resolves_sizes_of_its_phase() -> None:
    settings = resolve(raw())
    assert settings.phase == 2
    assert settings.sizes.postgres.read_replicas == 1
    assert settings.active_regions == ["local"]


def test_all_problems_are_reported_together_with_paths_values_and_what_is_valid() -> None:
    found = problems(
        raw(
            services={"api": {"image": "x:1", "replicas": {"min": 5, "max": 2}, "prot": 8080}},
            overrides={"postgres": {"readReplicas": -1}},
            colour="blue",
        )
    )
    assert found == [
        "phasescale:colour: got 'blue'; unknown key; valid keys: alerts, budgetUsdPerMonth, cdn, cdnSignedUrlKey, cluster, "
        "dbPassword, environment, gpu, hfToken, kafkaPassword, logging, milvus, monitoring, namespace, overrides, parts, "
        "phase, phaseOverrides, postgres, queue, redis, redisPassword, regions, services, slackWebhookUrl, usage, workers",
        "phasescale:overrides.postgres.readReplicas: got -1; Input should be greater than or equal to 0",
        "phasescale:services.api.prot: got 8080; unknown key (misspelled?); see the config reference in README.md",
        "phasescale:services.api.replicas: got {'min': 5, 'max': 2}; min (5) must not be above max (2)",
    ]


def test_secret_keys_must_come_from_secret_config() -> None:
    found = problems(raw(slackWebhookUrl="https://hooks.slack.com/services/T/B/X"))
    assert found == ["phasescale:slackWebhookUrl: got '<plaintext>'; must be set with `pulumi config set --secret`"]
    ok = resolve(raw(slackWebhookUrl="https://h"), frozenset({"phasescale:slackWebhookUrl"}))
    assert ok.secrets == {"slackWebhookUrl": "https://h"}


def test_target_specific_keys_are_checked() -> None:
    cfg = raw(services={"api": {"image": "x:1", "runtime": "cloudrun", "callers": ["webb"]}})
    cfg["phasescale:cluster"] = json.dumps({"target": "eks"})
    cfg["phasescale:regions"] = json.dumps({"seoul": {"location": "ap-northeast-2", "kubeContext": "x"}})
    assert problems(cfg) == [
        "phasescale:regions.seoul.kubeContext: got 'x'; only for cluster.target existing; remove it",
        "phasescale:services.api.callers: got 'webb'; not a service; valid: api, ingress, monitoring",
        "phasescale:services.api.runtime: got 'cloudrun'; cloudrun needs cluster.target gke",
    ]
    cfg["phasescale:cluster"] = json.dumps({"target": "gke"})
    cfg["phasescale:services"] = "{}"
    assert "phasescale:cluster.gcpProject: got None; required for cluster.target gke" in problems(cfg)


def test_phase_out_of_range() -> None:
    found = problems(raw(phase="5"))
    assert any(f.startswith("phasescale:phase: got 5; Input should be less than or equal to 4") for f in found)


def test_phase_override_changes_sizes() -> None:
    assert resolve(raw(), phase_override=4).sizes.postgres.read_replicas == 4


def test_override_replaces_one_catalog_value_and_keeps_the_rest() -> None:
    s = resolve(raw(overrides={"redis": {"maxmemoryMb": 2048}}))
    assert s.sizes.redis.maxmemory_mb == 2048
    assert s.sizes.redis.mode == catalog.REDIS[2].mode


@given(lo=st.integers(0, 60), hi=st.integers(1, 60))
def test_replica_bounds_are_accepted_iff_min_le_max(lo: int, hi: int) -> None:
    cfg = raw(services={"api": {"image": "x:1", "replicas": {"min": lo, "max": hi}}})
    if lo <= hi:
        assert resolve(cfg).stack.services["api"].replicas.min == lo  # type: ignore[union-attr]
    else:
        assert problems(cfg) == [
            f"phasescale:services.api.replicas: got {{'min': {lo}, 'max': {hi}}}; min ({lo}) must not be above max ({hi})"
        ]


@given(key=st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12))
def test_any_unknown_service_key_is_rejected(key: str) -> None:
    from infra.config import Service

    known = {f.alias for f in Service.model_fields.values()}
    if key in known:
        return
    found = problems(raw(services={"api": {"image": "x:1", key: 1}}))
    assert found == [f"phasescale:services.api.{key}: got 1; unknown key (misspelled?); see the config reference in README.md"]


@given(phase=st.sampled_from(catalog.PHASES), replicas=st.integers(-5, 15))
def test_postgres_replica_override_is_validated(phase: int, replicas: int) -> None:
    cfg = raw(phase=str(phase), overrides={"postgres": {"readReplicas": replicas}})
    if 0 <= replicas <= 10:
        assert resolve(cfg).sizes.postgres.read_replicas == replicas
    else:
        assert [p.split(";")[0] for p in problems(cfg)] == [f"phasescale:overrides.postgres.readReplicas: got {replicas}"]
