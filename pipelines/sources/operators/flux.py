"""Flux `Kustomization` / `HelmRelease`: deployments per object and applied revision.

From events (`kubectl get events -o json`) and status (`lastAppliedRevision`,
`lastAttemptedRevision`, `Ready`): success when any reconciliation of it succeeded, else failure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

from pipelines.sources.operators.common import Context, get, labels_of, row
from pipelines.sources.records import BadRecord, parse_timestamp

FLUX_REVISION = ("kustomize.toolkit.fluxcd.io/revision", "helm.toolkit.fluxcd.io/revision")
FLUX_SUCCESS = {"ReconciliationSucceeded", "InstallSucceeded", "UpgradeSucceeded"}


def flux_revision(value: str) -> str:
    """`main@sha1:<sha>`, `main/<sha>`, `sha1:<sha>` → `<sha>`; `1.2.3@sha256:…` → `1.2.3`."""
    if "sha1:" in value:
        return value.rsplit("sha1:", 1)[1]
    last = value.rsplit("/", 1)[-1]
    if re.fullmatch(r"[0-9a-f]{40}", last):
        return last
    return value.split("@", 1)[0]


def read_flux(ctx: Context, objects: list[dict[str, Any]]) -> None:
    kinds = {"Kustomization", "HelmRelease"}
    observed: dict[tuple[str, str, str, str], list[tuple[dt.datetime, bool]]] = defaultdict(list)
    info: dict[tuple[str, str, str], dict[str, Any]] = {}
    for obj in objects:
        kind = obj.get("kind")
        if kind in kinds and "toolkit.fluxcd.io" in str(obj.get("apiVersion", "")):
            meta = obj["metadata"]
            key = (kind, str(meta.get("namespace")), str(meta.get("name")))
            info[key] = obj
            _flux_status(ctx, obj, key, observed)
        elif kind == "Event" and get(obj, "involvedObject", "kind") in kinds:
            _flux_event(ctx, obj, observed)
    unmatched: set[str] = set()
    for (kind, namespace, name, revision), seen in sorted(observed.items()):
        obj = info.get((kind, namespace, name), {})
        paths = [str(p) for p in (get(obj, "spec", "path"),) if p]
        target = ctx.target(name, labels_of(obj), paths)
        where = f"{kind}/{namespace}/{name}"
        deployment_id = f"flux-{namespace}-{name}-{revision[:12]}"
        if target is None:
            if where not in unmatched:  # one row per object, not one per revision
                unmatched.add(where)
                ctx.quarantine(where, None, where, None,
                               f"{kind} {name!r} matches no service of the config", name)
            continue
        commit, why = ctx.app_revision(target, revision)
        if commit is None:
            ctx.quarantine(f"{where}@{revision[:12]}", None, deployment_id, "revision", why,
                           revision)
            continue
        good = sorted(t for t, ok in seen if ok)
        times = sorted(t for t, _ in seen)
        finished = good[0] if good else times[-1]
        ctx.rows.append(row(ctx, deployment_id, target, commit, times[0], finished,
                             "success" if good else "failure"))


def _flux_status(ctx: Context, obj: dict[str, Any], key: tuple[str, str, str],
                 observed: dict[tuple[str, str, str, str], list[tuple[dt.datetime, bool]]]) -> None:
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or []
                  if isinstance(c, dict) and c.get("type") == "Ready"), None)
    if ready is None or not ready.get("lastTransitionTime"):
        return
    try:
        at = parse_timestamp(ready["lastTransitionTime"], "Ready.lastTransitionTime")
    except BadRecord as exc:
        ctx.quarantine("/".join(key), None, key[2], exc.field, exc.reason, ready)
        return
    applied, attempted = status.get("lastAppliedRevision"), status.get("lastAttemptedRevision")
    if ready.get("status") == "True" and isinstance(applied, str):
        observed[(*key, flux_revision(applied))].append((at, True))
    elif ready.get("status") == "False" and isinstance(attempted, str) and attempted != applied:
        observed[(*key, flux_revision(attempted))].append((at, False))


def _flux_event(ctx: Context, event: dict[str, Any],
                observed: dict[tuple[str, str, str, str], list[tuple[dt.datetime, bool]]]) -> None:
    involved = event["involvedObject"]
    key = (involved["kind"], str(involved.get("namespace")), str(involved.get("name")))
    annotations = get(event, "metadata", "annotations") or {}
    revision = next((annotations[k] for k in FLUX_REVISION if k in annotations), None)
    reason = str(event.get("reason", ""))
    failed = event.get("type") == "Warning" and reason.endswith("Failed")
    if not isinstance(revision, str) or not (failed or reason in FLUX_SUCCESS):
        return  # progress notes and events of no revision say nothing about a deployment
    try:
        first = event.get("eventTime") or event.get("firstTimestamp") or event.get("lastTimestamp")
        times = [parse_timestamp(first, "firstTimestamp")]
        if failed and event.get("lastTimestamp"):
            # A repeated failure (count > 1) lasted until its last occurrence.
            times.append(parse_timestamp(event["lastTimestamp"], "lastTimestamp"))
    except BadRecord as exc:
        ctx.quarantine(f"Event/{get(event, 'metadata', 'name')}", None, key[2], exc.field,
                       exc.reason, event)
        return
    observed[(*key, flux_revision(revision))].extend((at, not failed) for at in times)
