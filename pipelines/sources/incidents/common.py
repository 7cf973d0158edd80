"""What the incident and SLO sources share: results, causes named in text, cursors, tokens."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from metrics.schema import SCHEMAS
from pipelines.landing import LandingRoot, staged_landing, write_batch
from pipelines.sources.base import Tally, quarantine_frame
from pipelines.sources.records import BadRecord, convert

# "deployment: deploy-42" / "commit: 3f2a9c1" in an incident's body or description names its
# cause (docs/incidents.md). A sha is 7 to 40 hex digits.
_DEPLOYMENT = re.compile(r"(?im)\bdeployment\s*:\s*([A-Za-z0-9][A-Za-z0-9._:/@-]{0,199})")
_COMMIT = re.compile(r"(?im)\bcommit\s*:\s*([0-9a-f]{7,40})\b")
UNMAPPED = "unmapped service"  # quarantine reasons of skipped records start with this


def retrying_session() -> requests.Session:
    """An HTTP session whose cut connections and 429/5xx answers are retried a bounded number of
    times by urllib3, waiting out `Retry-After`."""
    session = requests.Session()
    retries = Retry(total=5, connect=3, read=3, status=5, backoff_factor=0.5,
                    status_forcelist=(429, 502, 503, 504), allowed_methods=("GET",),
                    respect_retry_after_header=True, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retries))
    session.mount("https://", HTTPAdapter(max_retries=retries))
    return session


class TransientError(RuntimeError):
    """The server could not be reached or kept failing (5xx, 429) after the client's own
    retries: worth another try later (the asset asks Dagster to retry the step)."""


def named_cause(text: str | None) -> dict[str, str | None]:
    """`deployment_id` and `commit_sha` named in an incident's text (None when absent)."""
    text = text or ""
    deployment = _DEPLOYMENT.search(text)
    commit = _COMMIT.search(text)
    return {"deployment_id": deployment.group(1).rstrip(".,;") if deployment else None,
            "commit_sha": commit.group(1).lower() if commit else None}


def secret(env: str, what: str) -> str:
    """The value of the environment variable `env`; the error names the variable, never a value."""
    value = os.environ.get(env)
    if not value:
        raise RuntimeError(f"{what}: environment variable {env} is not set")
    return value


@dataclass
class SourceResult:
    """Canonical frames per entity, quarantine rows, the tally and the next cursor."""

    source: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bad: list[dict[str, Any]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    cursor: dict[str, Any] | None = None
    requests: int = 0

    def add(self, entity: str, raw: dict[str, Any], where: str, line: int = 0) -> bool:
        """Convert and keep `raw`, or quarantine it naming the field; True when it loaded."""
        self.tally.read[entity] += 1
        try:
            row = convert(entity, raw)
        except BadRecord as exc:
            self.reject(entity, raw, where, line, exc.field, exc.reason)
            return False
        self.rows.setdefault(entity, []).append(row | {"source": self.source})
        self.tally.loaded[entity] += 1
        return True

    def skip(self, entity: str, raw: dict[str, Any], where: str, service: str) -> None:
        """A record of a service the config does not map: skipped, counted in quarantine."""
        self.tally.read[entity] += 1
        self.reject(entity, raw, where, 0, "service",
                    f"{UNMAPPED} {service!r}: not under the source's `services` or the config's "
                    "`services`; skipped")

    def reject(self, entity: str, raw: Any, where: str, line: int, field_: str | None,
               reason: str) -> None:
        """A quarantine row for `raw` (file or request `where`, `line`, `field_`, `reason`)."""
        self.tally.quarantined[entity] += 1
        key = raw.get("id") if isinstance(raw, dict) else None
        self.bad.append({
            "source": self.source, "file": where, "line": line, "entity": entity,
            "record_key": None if key is None else str(key)[:200], "field": field_,
            "reason": reason, "raw": json.dumps(raw, default=str, sort_keys=True)[:10_000],
        })

    def frames(self) -> dict[str, pl.DataFrame]:
        """The loaded rows as canonical frames."""
        return {entity: pl.DataFrame(rows, schema=SCHEMAS[entity], orient="row")
                for entity, rows in self.rows.items() if rows}


def cursor_path(kind: str, name: str) -> str:
    """Where a source's cursor lives, relative to the landing root."""
    return f"_cursors/{kind}/{name}.json"


def read_cursor(landing: LandingRoot, kind: str, name: str) -> dict[str, Any] | None:
    """The cursor a previous sync stored, or None."""
    with staged_landing(landing, prefetch=[cursor_path(kind, name)]) as local:
        path = local / cursor_path(kind, name)
        return json.loads(path.read_text()) if path.is_file() else None


def land(landing: LandingRoot, kind: str, result: SourceResult) -> int:
    """Write the result's batches, then (only then) its cursor; returns how many batches were
    new."""
    written = 0
    for entity, frame in result.frames().items():
        written += write_batch(landing, kind, result.source, entity, frame) is not None
    written += write_batch(landing, kind, result.source, "quarantine",
                           quarantine_frame(result.bad)) is not None
    if result.cursor is not None:
        with staged_landing(landing) as local:
            _write_atomic(local / cursor_path(kind, result.source), json.dumps(result.cursor))
    return written


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)
