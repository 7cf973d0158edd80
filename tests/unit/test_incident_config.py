"""The four incident/SLO source kinds in the config: the documented example loads; mistakes are
one clear error naming the key and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_config

EXAMPLE = """\
services:
  - {name: payments-api, repo: acme/payments}
slos:
  - {name: payments-api-availability, service: payments-api, objective: 0.99}
sources:
  - kind: pagerduty
    token_env: PAGERDUTY_TOKEN
    base_url: https://api.pagerduty.com
    services: {PABC123: payments-api}
    urgencies: [high]
    since: 2025-01-01
  - kind: jira
    base_url: https://acme.atlassian.net
    email_env: JIRA_EMAIL
    token_env: JIRA_TOKEN
    jql: project = INC AND type = Incident
    service_field: components
    services: {Payments: payments-api}
    severity_field: priority
  - kind: cdevents
    path: cdevents/
  - kind: prometheus
    base_url: http://prometheus:9090
    window: 1h
    slos:
      - slo: payments-api-availability
        good: sum(increase(http_requests_total{job="payments",code!~"5.."}[1h]))
        total: sum(increase(http_requests_total{job="payments"}[1h]))
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dora.yaml"
    path.write_text(text)
    return path


def test_the_documented_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE))
    kinds = [s.kind for s in config.sources]
    assert kinds == ["pagerduty", "jira", "cdevents", "prometheus"]
    assert config.sources[0].services == {"PABC123": "payments-api"}
    assert config.sources[3].slos[0].slo == "payments-api-availability"
    # Tokens are names of variables, never values: nothing in the model holds a secret.
    assert config.sources[0].token_env == "PAGERDUTY_TOKEN"


def test_an_unknown_key_names_the_key_and_line(tmp_path: Path) -> None:
    """`token:` (a value instead of `token_env`) on line 12 is refused."""
    text = EXAMPLE.replace("    since: 2025-01-01\n", "    since: 2025-01-01\n    token: abc\n")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "line 12: `sources.0.token`: unknown key" in str(caught.value)


def test_pagerduty_needs_https_and_prometheus_needs_slos(tmp_path: Path) -> None:
    text = EXAMPLE.replace("https://api.pagerduty.com", "http://127.0.0.1:9")
    text = text.replace("    window: 1h\n", "    window: 1h\n    openslo: null\n")
    text = text[:text.index("    slos:\n      - slo:")]
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "`sources.0.base_url`: String should match pattern '^https://'" in message
    assert "`sources.3`: give `slos` or an `openslo` folder" in message
