"""Argo CD `Application`s: one deployment per `status.history[]` entry (`argocd-<app>-<id>`).

An `argocd app rollback` shows as an entry going back to an earlier revision (`rollback_of`); a
failed current operation is a failed deployment.
"""

from __future__ import annotations

from typing import Any

from pipelines.sources.operators.common import Context, Target, get, labels_of, row
from pipelines.sources.records import BadRecord, parse_timestamp


def _argocd_paths(spec: dict[str, Any]) -> list[str]:
    sources = [spec.get("source")] + list(spec.get("sources") or [])
    paths = []
    for source in (s for s in sources if isinstance(s, dict)):
        base = str(source.get("path") or "").strip("/")
        paths.append(base)
        for values in get(source, "helm", "valueFiles") or []:
            paths.append(f"{base}/{values}".strip("/"))
    return [p for p in paths if p]


def read_argocd(ctx: Context, objects: list[dict[str, Any]]) -> None:
    for app in (o for o in objects if o.get("kind") == "Application"):
        name = str(get(app, "metadata", "name"))
        where = f"Application/{name}"
        target = ctx.target(name, labels_of(app), _argocd_paths(app.get("spec") or {}))
        history = get(app, "status", "history") or []
        if target is None and history:
            ctx.quarantine(where, None, name, None, f"Application {name!r} matches no service "
                           "of the config (name it after the service, or label it)", name)
            continue
        if target is None:
            continue
        if not isinstance(history, list):
            ctx.quarantine(where, None, name, "status.history", "`status.history` is not a list",
                           history)
            continue
        for position, entry in enumerate(history, start=1):
            try:
                if not isinstance(entry, dict) or entry.get("id") is None:
                    raise BadRecord("id", "history entry has no `id`")
                revisions = [entry.get("revision"), *(entry.get("revisions") or [])]
                revisions = [r for r in revisions if isinstance(r, str) and r]
                if not revisions:
                    raise BadRecord("revision", "history entry has no `revision`")
                finished = parse_timestamp(entry.get("deployedAt"), "deployedAt")
                started = (parse_timestamp(entry["deployStartedAt"], "deployStartedAt")
                           if entry.get("deployStartedAt") else None)
                reasons = []
                for revision in revisions:
                    commit, why = ctx.app_revision(target, revision)
                    if commit:
                        break
                    reasons.append(why)
                if not commit:
                    raise BadRecord("revision", "; ".join(reasons))
            except BadRecord as exc:
                key = f"argocd-{name}-{entry.get('id')}" if isinstance(entry, dict) else None
                ctx.quarantine(where, position, key, exc.field, exc.reason, entry)
                continue
            ctx.rows.append(row(ctx, f"argocd-{name}-{entry['id']}", target, commit, started,
                                 finished, "success"))
        _argocd_operation(ctx, app, name, target)


def _argocd_operation(ctx: Context, app: dict[str, Any], name: str, target: Target) -> None:
    """A current sync operation that failed (or still runs) is a deployment too."""
    state = get(app, "status", "operationState") or {}
    status = {"Failed": "failure", "Error": "failure", "Running": "in_progress"}.get(
        state.get("phase"))
    revision = get(state, "syncResult", "revision") or get(state, "operation", "sync",
                                                              "revision")
    if status is None or not isinstance(revision, str) or not state.get("startedAt"):
        return
    try:
        started = parse_timestamp(state["startedAt"], "operationState.startedAt")
        finished = parse_timestamp(state.get("finishedAt") or state["startedAt"],
                                   "operationState.finishedAt")
        commit, why = ctx.app_revision(target, revision)
        if commit is None:
            raise BadRecord("revision", why)
    except BadRecord as exc:
        ctx.quarantine(f"Application/{name}", 0, f"argocd-{name}-op", exc.field, exc.reason, state)
        return
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    ctx.rows.append(row(ctx, f"argocd-{name}-op-{stamp}", target, commit, started, finished,
                         status))
