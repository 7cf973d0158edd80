"""The `cdevents` source: CDEvents v0.5 JSON events, one per line (docs/incidents.md).

Each event is validated against its schema (bundled in `schemas/`, CDEvents spec v0.5.1,
Apache-2.0). Events may arrive twice and out of order: they are keyed by `context.id` and
ordered by `context.timestamp`. `service.deployed` / `service.upgraded` are deployments,
`service.rolledback` a deployment that rolls back the one before it (same service and
environment); `incident.detected` / `incident.reported` open an incident (`subject.id`) and
`incident.resolved` closes it. `change.merged` is validated but not loaded: it names no pull
request number.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from pipelines.sources.incidents.common import SourceResult
from pipelines.sources.records import display

SCHEMA_FILES = {
    "service.deployed": "servicedeployed.json", "service.upgraded": "serviceupgraded.json",
    "service.rolledback": "servicerolledback.json", "incident.detected": "incidentdetected.json",
    "incident.reported": "incidentreported.json", "incident.resolved": "incidentresolved.json",
    "change.merged": "changemerged.json",
}
DEPLOYING = {"service.deployed", "service.upgraded", "service.rolledback"}
OPENING = {"incident.detected", "incident.reported"}


@cache
def _validators() -> dict[str, Draft202012Validator]:
    root = files("pipelines.sources.incidents") / "schemas"
    registry: Registry = Registry()
    for item in (root / "links").iterdir():
        if item.name.endswith(".json"):
            schema = json.loads(item.read_text(encoding="utf-8"))
            registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    out = {}
    for kind, name in SCHEMA_FILES.items():
        schema = json.loads((root / name).read_text(encoding="utf-8"))
        out[kind] = Draft202012Validator(schema, registry=registry)
    return out


def event_kind(event_type: Any) -> str | None:
    """`dev.cdevents.service.deployed.0.3.0` -> `service.deployed` (None when not read here)."""
    if not isinstance(event_type, str) or not event_type.startswith("dev.cdevents."):
        return None
    parts = event_type.split(".")
    kind = ".".join(parts[2:4]) if len(parts) >= 5 else None
    return kind if kind in SCHEMA_FILES else None


def read_folder(folder: Path, name: str, known_services: set[str]) -> SourceResult:
    """Every `*.jsonl` / `*.json` event file of `folder` into deployments and incidents."""
    if not folder.is_dir():
        raise FileNotFoundError(f"source `{name}`: folder {folder} does not exist")
    result = SourceResult(name)
    events: dict[str, tuple[str, dict[str, Any], str, int]] = {}
    for path in sorted([*folder.glob("*.jsonl"), *folder.glob("*.json")]):
        for line, text in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                    .splitlines(), start=1):
            if not text.strip():
                continue
            kind, checked = _check(text)
            if not isinstance(checked, dict):
                field, reason = kind, checked
                entity = "incidents" if "incident" in text else "deployments"
                result.reject(entity, {"raw": text[:2000]}, path.name, line, field, reason)
                continue
            event = checked
            # The same event twice (a redelivery) counts once: keyed by context.id.
            events.setdefault(event["context"]["id"], (kind, event, path.name, line))
    ordered = sorted(events.values(), key=lambda e: (e[1]["context"]["timestamp"],
                                                      e[1]["context"]["id"]))
    _deployments(result, [e for e in ordered if e[0] in DEPLOYING], known_services)
    _incidents(result, [e for e in ordered if e[0] in OPENING | {"incident.resolved"}],
               known_services)
    return result


def _check(text: str) -> tuple[str, dict[str, Any]] | tuple[str | None, str]:
    """(kind, event) for a valid event, else (field, reason)."""
    try:
        event = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        return None, f"line is not valid JSON ({str(exc)[:80]})"
    if not isinstance(event, dict):
        return None, "line is not a JSON object"
    context = event.get("context")
    kind = event_kind(context.get("type") if isinstance(context, dict) else None)
    if kind is None:
        shown = context.get("type") if isinstance(context, dict) else None
        return "context.type", (f"event type {display(str(shown))!s} is not one this source "
                                "reads (" + ", ".join(sorted(SCHEMA_FILES)) + ")")
    errors = sorted(_validators()[kind].iter_errors(event), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        field = ".".join(str(p) for p in error.absolute_path) or None
        return field, f"not a valid CDEvents {kind} event: {display(error.message, 200)}"
    return kind, event


def _service(subject_id: str) -> str:
    """`service/payments-api` -> `payments-api` (the spec's examples prefix a kind)."""
    return subject_id.rsplit("/", 1)[-1]


def _revision(artifact: str) -> str:
    """The version or digest of a purl (`pkg:oci/app@sha256%3Aab…` -> `sha256:ab…`)."""
    version = artifact.split("@", 1)[1] if "@" in artifact else artifact
    return unquote(version.split("?", 1)[0].split("#", 1)[0])


def _deployments(result: SourceResult, events: list[tuple[str, dict[str, Any], str, int]],
                 known: set[str]) -> None:
    last: dict[tuple[str, str], str] = {}  # (service, environment) -> latest deployment id
    for kind, event, file, line in events:
        subject = event["subject"]
        service = _service(subject["id"])
        environment = subject["content"]["environment"]["id"]
        raw = {"id": event["context"]["id"], "service": service, "environment": environment,
               "revision": _revision(subject["content"]["artifactId"]),
               "finished_at": event["context"]["timestamp"], "status": "success",
               "rollback_of": last.get((service, environment))
               if kind == "service.rolledback" else None}
        if service not in known:
            result.skip("deployments", raw, file, service)
            continue
        if result.add("deployments", raw, file, line):
            last[(service, environment)] = raw["id"]


def _incidents(result: SourceResult, events: list[tuple[str, dict[str, Any], str, int]],
               known: set[str]) -> None:
    incidents: dict[str, dict[str, Any]] = {}
    where: dict[str, tuple[str, int]] = {}
    for kind, event, file, line in events:
        subject = event["subject"]
        content = subject["content"]
        at = event["context"]["timestamp"]
        record = incidents.setdefault(subject["id"], {
            "id": subject["id"], "service": None, "title": None, "opened_at": None,
            "resolved_at": None, "severity": None, "cause": "unknown"})
        where.setdefault(subject["id"], (file, line))
        if content.get("service"):
            record["service"] = record["service"] or _service(content["service"]["id"])
        if kind in OPENING:
            record["opened_at"] = record["opened_at"] or at
            record["title"] = record["title"] or content.get("description")
            custom = event.get("customData")
            if isinstance(custom, dict) and isinstance(custom.get("severity"), str):
                record["severity"] = record["severity"] or custom["severity"]
        else:
            record["resolved_at"] = at  # the latest resolve wins (events are in time order)
    for incident_id, record in incidents.items():
        file, line = where[incident_id]
        if record["opened_at"] is None:
            result.reject("incidents", record, file, line, "opened_at",
                          "incident.resolved without an incident.detected or incident.reported "
                          "event for the same subject.id")
        elif record["service"] is not None and record["service"] not in known:
            result.skip("incidents", record, file, record["service"])
        else:
            result.add("incidents", record, file, line)
