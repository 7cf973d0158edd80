"""Argo Rollouts: an aborted canary becomes a rollback deployment.

`rollouts-<name>-<revision>-abort`, back to the stable revision, whose `rollback_of` is the
deployment that shipped the canary, found among the other sources' deployments; without one, the
canary is recorded as a failed deployment.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pipelines.sources.gitops import resolve_tags
from pipelines.sources.images import MANIFEST, ImageRef, split_image
from pipelines.sources.operators.common import Context, Target, get, labels_of, row
from pipelines.sources.records import BadRecord, parse_timestamp


def _images(pod_spec: Any) -> list[str]:
    containers = list(get(pod_spec, "containers") or []) + list(
        get(pod_spec, "initContainers") or [])
    return [c["image"] for c in containers if isinstance(c, dict) and isinstance(c.get("image"),
                                                                                  str)]


def _service_tag(ctx: Context, target: Target, images: list[str]) -> str | None:
    for image in images:
        name, tag = split_image(image)
        if tag and target.service in ctx.images.services(ImageRef(name, tag, MANIFEST), None):
            return tag
    return None


def _analysis_failed(rollout: dict[str, Any]) -> bool:
    status = rollout.get("status") or {}
    runs = [get(status, "canary", k, "status") for k in
            ("currentStepAnalysisRunStatus", "currentBackgroundAnalysisRunStatus")]
    message = str(status.get("message") or "")
    return any(r in ("Failed", "Error") for r in runs) or "assessed" in message


def read_rollouts(ctx: Context, objects: list[dict[str, Any]], known: pl.DataFrame) -> None:
    replica_sets = {
        (str(get(o, "metadata", "namespace")),
         str(get(o, "metadata", "labels", "rollouts-pod-template-hash"))): o
        for o in objects if o.get("kind") == "ReplicaSet"
    }
    deployed = known.filter(pl.col("status") == "success").sort("finished_at", "id")
    for rollout in (o for o in objects if o.get("kind") == "Rollout"):
        status = rollout.get("status") or {}
        aborted = next((c for c in status.get("conditions") or []
                        if isinstance(c, dict) and c.get("reason") == "RolloutAborted"), None)
        if not status.get("abort") and aborted is None:
            continue
        name = str(get(rollout, "metadata", "name"))
        namespace = str(get(rollout, "metadata", "namespace"))
        number = get(rollout, "metadata", "annotations", "rollout.argoproj.io/revision") or "0"
        where, base_id = f"Rollout/{namespace}/{name}", f"rollouts-{name}-{number}"
        target = ctx.target(name, labels_of(rollout), [])
        try:
            if target is None:
                raise BadRecord(None, f"Rollout {name!r} matches no service of the config")
            at = parse_timestamp(
                status.get("abortedAt") or (aborted or {}).get("lastTransitionTime"), "abortedAt")
            tag = _service_tag(ctx, target, _images(get(rollout, "spec", "template", "spec")))
            canary = resolve_tags({target.service: {tag}}, ctx.apps)[(target.service, tag)] \
                if tag else None
            if canary is None:
                raise BadRecord("spec.template", f"the canary image of {target.service} "
                                f"({tag or 'none found'}) does not resolve to an app commit")
        except BadRecord as exc:
            ctx.quarantine(where, None, base_id, exc.field, exc.reason, status)
            continue
        label = "analysis-failed" if _analysis_failed(rollout) else "aborted"
        mine = deployed.filter((pl.col("service") == target.service)
                               & (pl.col("environment") == target.environment)
                               & (pl.col("finished_at") <= at))
        shipped = mine.filter(pl.col("revision") == canary).tail(1)
        if shipped.height == 0:
            ctx.rows.append(row(ctx, base_id, target, canary, None, at, "failure", [label]))
            continue
        before = mine.filter(pl.col("finished_at") < shipped["finished_at"][0])
        stable_rs = replica_sets.get((namespace, str(status.get("stableRS"))))
        stable_tag = _service_tag(ctx, target, _images(get(stable_rs, "spec", "template",
                                                            "spec")))
        stable = (resolve_tags({target.service: {stable_tag}}, ctx.apps)
                  [(target.service, stable_tag)] if stable_tag else None)
        stable = stable or (before["revision"][-1] if before.height else None)
        if stable is None:
            ctx.quarantine(where, None, f"{base_id}-abort", "status.stableRS",
                           "cannot tell which revision the abort went back to: no earlier "
                           "deployment and no stable ReplicaSet in the file", status)
            continue
        ctx.rows.append(row(ctx, f"{base_id}-abort", target, stable, None, at, "success",
                             ["rollback", label], rollback_of=shipped["id"][0]))
