"""The cdevents source: schema validation, redelivered and out-of-order events, rollbacks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cdevents_kit import deployed, event, incident, write_lines

from pipelines.sources.incidents import cdevents

KNOWN = {"checkout-api"}


def test_deployments_rollbacks_and_incidents_from_events(tmp_path: Path) -> None:
    """Worked by hand. Events arrive out of order and e2 twice:
    e1 10:00 deployed v1, e2 11:00 deployed v2, e3 12:00 rolledback to v1 -> rollback_of e2
    (the deployment before it). Incident I-1: detected 11:30, resolved 12:05 (the resolved
    event comes first in the file). I-2 only reported (open). Deployments of `other-svc`
    (not a service) are skipped, counted."""
    write_lines(tmp_path / "events.jsonl", [
        incident("incident.resolved", "r1", "2026-03-02T12:05:00Z", "I-1", "checkout-api"),
        deployed("e3", "2026-03-02T12:00:00Z", "checkout-api", "v1", "service.rolledback"),
        deployed("e2", "2026-03-02T11:00:00Z", "checkout-api", "sha256%3Aab12"),
        deployed("e1", "2026-03-02T10:00:00Z", "checkout-api", "v1"),
        deployed("e2", "2026-03-02T11:00:00Z", "checkout-api", "sha256%3Aab12"),
        incident("incident.detected", "d1", "2026-03-02T11:30:00Z", "I-1", "checkout-api",
                 "deployment: e2 broke checkout"),
        incident("incident.reported", "p1", "2026-03-03T09:00:00Z", "I-2", "checkout-api"),
        deployed("x1", "2026-03-02T10:00:00Z", "other-svc", "v9"),
    ])
    result = cdevents.read_folder(tmp_path, "cde", KNOWN)
    deps = {r["id"]: r for r in result.rows["deployments"]}
    assert sorted(deps) == ["e1", "e2", "e3"]
    assert deps["e2"]["revision"] == "sha256:ab12"
    assert deps["e3"]["rollback_of"] == "e2" and deps["e2"]["rollback_of"] is None
    assert {d["environment"] for d in deps.values()} == {"production"}
    incidents = {r["id"]: r for r in result.rows["incidents"]}
    assert incidents["I-1"]["opened_at"] == dt.datetime(2026, 3, 2, 11, 30, tzinfo=dt.UTC)
    assert incidents["I-1"]["resolved_at"] == dt.datetime(2026, 3, 2, 12, 5, tzinfo=dt.UTC)
    assert incidents["I-2"]["resolved_at"] is None
    assert incidents["I-1"]["service"] == "checkout-api"
    assert [(b["record_key"], b["field"]) for b in result.bad] == [("x1", "service")]
    assert result.tally.reconciles


def test_invalid_events_are_quarantined_with_file_line_and_field(tmp_path: Path) -> None:
    """Line 1 good; line 2 not JSON; line 3 misses subject.content.artifactId (schema);
    line 4 an event type this source does not read; line 5 an extra context key."""
    bad_context = deployed("e5", "2026-03-02T10:00:00Z", "checkout-api", "v1")
    bad_context["context"]["colour"] = "red"
    no_artifact = deployed("e3", "2026-03-02T10:00:00Z", "checkout-api", "v1")
    del no_artifact["subject"]["content"]["artifactId"]
    write_lines(tmp_path / "bad.jsonl", [
        deployed("e1", "2026-03-02T10:00:00Z", "checkout-api", "v1"),
        "{not json",
        no_artifact,
        event("pipelinerun.finished", "e4", "2026-03-02T10:00:00Z", "p", outcome="success"),
        bad_context,
    ])
    result = cdevents.read_folder(tmp_path, "cde", KNOWN)
    assert [r["id"] for r in result.rows["deployments"]] == ["e1"]
    got = [(b["file"], b["line"], b["field"]) for b in result.bad]
    assert got == [("bad.jsonl", 2, None), ("bad.jsonl", 3, "subject.content"),
                   ("bad.jsonl", 4, "context.type"), ("bad.jsonl", 5, "context")]
    assert "'artifactId' is a required property" in result.bad[1]["reason"]
    assert "Additional properties" in result.bad[3]["reason"]


def test_the_specs_own_examples_validate() -> None:
    """The conformance examples of CDEvents v0.5.1 pass the bundled schemas, and one with a
    wrong type fails them."""
    import json

    folder = Path(__file__).parent.parent / "cdevents_conformance"
    examples = sorted(folder.glob("*.json"))
    assert len(examples) == 7
    for path in examples:
        kind, checked = cdevents._check(path.read_text())
        assert isinstance(checked, dict), (path.name, checked)
        assert kind == path.stem.replace("_", ".")
    broken = json.loads((folder / "service_deployed.json").read_text())
    broken["subject"]["content"]["environment"] = "prod"
    field, reason = cdevents._check(json.dumps(broken))
    assert field == "subject.content.environment" and "is not of type 'object'" in reason
