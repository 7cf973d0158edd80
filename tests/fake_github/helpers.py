"""Helpers for the GitHub source's tests: client settings that record waits, a config file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from pipelines.config import DoraConfig, load_config
from pipelines.sources.github import ClientSettings

TOKEN_ENV = "DORA_TEST_GITHUB_TOKEN"
FIXED_NOW = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


def settings(waits: list[float], **overrides: Any) -> ClientSettings:
    """Client settings for tests: no spacing between requests, waits recorded, not slept."""
    values: dict[str, Any] = {
        "seconds_between_requests": None, "sleep": waits.append, "backoff_factor": 0.5,
        "max_wait": 900.0, "secondary_wait": 60.0, "retries": 4,
    }
    return ClientSettings(**{**values, **overrides})


def write_config(tmp_path: Path, base_url: str, repos: list[str], **source: Any) -> DoraConfig:
    """A config file with one github source (and the service `app` of acme/app), loaded."""
    config = {
        "warehouse": "data/dora.duckdb",
        "teams": [{"name": "payments", "services": ["app"]}],
        "services": [{"name": "app", "repo": "acme/app"}],
        "sources": [{"kind": "github", "repos": repos, "token_env": TOKEN_ENV,
                     "base_url": base_url, "deployments_from": ["deployments", "releases"],
                     **source}],
    }
    path = tmp_path / "dora.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return load_config(path)
