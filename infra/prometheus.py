"""A minimal Prometheus HTTP API client (standard library only): instant and range queries, with an
optional bearer token. Every failure becomes one ``PrometheusError`` with a sentence a person can act
on (unreachable, refused token, rejected query), never a traceback.

API: https://prometheus.io/docs/prometheus/latest/querying/api/ (``/api/v1/query`` and
``/api/v1/query_range``; ``{"status": "success"|"error", "data": {"resultType", "result"}}``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PrometheusError(Exception):
    """Prometheus could not answer; the message says why and what to check."""


@dataclass(frozen=True)
class Prometheus:
    url: str
    token: str | None = None
    timeout_s: float = 10.0

    @classmethod
    def connect(cls, url: str, token_file: Path | None = None, timeout_s: float = 10.0) -> Prometheus:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PrometheusError(f"--prometheus {url!r} is not an http(s) URL (e.g. http://localhost:9090)")
        token = None
        if token_file is not None:
            try:
                token = token_file.read_text().strip()
            except OSError as err:
                raise PrometheusError(
                    f"cannot read the bearer token file {token_file}: {err.strerror}"
                ) from None
            if not token:
                raise PrometheusError(f"the bearer token file {token_file} is empty")
        return cls(url.rstrip("/"), token, timeout_s)

    def _get(self, path: str, params: dict[str, str]) -> Any:
        req = urllib.request.Request(f"{self.url}{path}?{urllib.parse.urlencode(params)}")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                body = resp.read()
        except urllib.error.HTTPError as err:
            body = err.read()
            if err.code in (401, 403):
                hint = "check --bearer-token-file" if self.token else "it needs a token: --bearer-token-file"
                raise PrometheusError(
                    f"Prometheus at {self.url} refused the request (HTTP {err.code}): {hint}"
                ) from None
            message = _error_text(body)
            if err.code in (400, 422) and message:
                raise PrometheusError(
                    f"Prometheus rejected the query {params.get('query')!r}: {message}"
                ) from None
            raise PrometheusError(f"Prometheus at {self.url} answered HTTP {err.code} {err.reason}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {reason}") from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise PrometheusError(
                f"{self.url}{path} did not answer JSON: is it a Prometheus server?"
            ) from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            raise PrometheusError(
                f"Prometheus returned an error for {params.get('query')!r}: {_error_text(body)}"
            )
        return answer["data"]

    def query(self, expr: str, at: float) -> float | None:
        """The single value of an instant query at ``at`` (epoch seconds); None when it is empty."""
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        result = data.get("result") or []
        if data.get("resultType") == "scalar":
            return float(result[1])
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusError(f"{expr!r} returned {len(result)} series where the rules expect one")
        return float(result[0]["value"][1])

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> list[tuple[float, float]]:
        """The points of a single-series range query; [] when it is empty."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"}
        result = self._get("/api/v1/query_range", params).get("result") or []
        if not result:
            return []
        if len(result) > 1:
            raise PrometheusError(f"{expr!r} returned {len(result)} series where the rules expect one")
        return [(float(ts), float(v)) for ts, v in result[0]["values"]]


def _error_text(body: bytes) -> str:
    try:
        answer = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:200]
    if isinstance(answer, dict):
        return f"{answer.get('errorType', '')}: {answer.get('error', '')}".strip(": ")
    return ""
