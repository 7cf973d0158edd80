"""CDEvents v0.5 events for tests, shaped like the spec's own conformance examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def event(kind: str, event_id: str, at: str, subject_id: str, **content: Any) -> dict:
    """A `dev.cdevents.<kind>.0.3.0` event (kind e.g. `service.deployed`)."""
    return {"context": {"specversion": "0.5.1", "id": event_id, "source": "/ci/prod",
                        "type": f"dev.cdevents.{kind}.0.3.0", "timestamp": at},
            "subject": {"id": subject_id, "source": "/ci/prod", "content": content}}


def deployed(event_id: str, at: str, service: str, version: str,
             kind: str = "service.deployed") -> dict:
    return event(kind, event_id, at, f"service/{service}", environment={"id": "production"},
                 artifactId=f"pkg:oci/{service}@{version}")


def incident(kind: str, event_id: str, at: str, incident_id: str, service: str,
             description: str = "errors") -> dict:
    content: dict[str, Any] = {"environment": {"id": "production"},
                               "service": {"id": f"service/{service}"}}
    if kind != "incident.resolved":
        content["description"] = description
    if kind == "incident.reported":  # a reported incident names its ticket
        content["ticketURI"] = f"https://tickets.example/{incident_id}"
    return event(kind, event_id, at, incident_id, **content)


def write_lines(path: Path, events: list[Any]) -> Path:
    """One JSON event per line (strings are written as they are: bad lines on purpose)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events))
    return path
