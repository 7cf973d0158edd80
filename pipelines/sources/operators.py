"""Operator history as deployments: Argo CD, Flux, and Argo Rollouts aborts.

Input is what `kubectl get … -o json` (a `List`), `argocd app get -o json` (one object) print,
saved to a file (or a folder of `.json` files). Operators record *config* revisions; each is
translated to the app commit it deployed: a commit of a gitops config repo → the service's image
tag at that commit → the app commit; a commit or version tag of the service's app clone → itself.

- Argo CD `Application`: one deployment per `status.history[]` entry (`argocd-<app>-<id>`); an
  `argocd app rollback` shows as an entry going back to an earlier revision (`rollback_of`); a
  failed current operation is a failed deployment.
- Flux `Kustomization` / `HelmRelease`: per object and applied revision, from events
  (`kubectl get events -o json`) and status (`lastAppliedRevision`, `lastAttemptedRevision`,
  `Ready`): success when any reconciliation of it succeeded, else failure.
- Argo Rollouts `Rollout`: an aborted canary becomes a rollback deployment
  (`rollouts-<name>-<revision>-abort`, back to the stable revision) whose `rollback_of` is the
  deployment that shipped the canary, found among the other sources' deployments; without one,
  the canary is recorded as a failed deployment.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from metrics.schema import SCHEMAS
from pipelines.config import DoraConfig, OperatorSource
from pipelines.sources.base import quarantine_frame
from pipelines.sources.files import FilesResult
from pipelines.sources.git import production_environment
from pipelines.sources.gitops import (
    FilePattern,
    app_ancestry,
    app_repos,
    config_repos,
    link_rollbacks,
    resolve_tags,
)
from pipelines.sources.images import MANIFEST, ImageRef, ServiceImages, split_image
from pipelines.sources.records import BadRecord, display, parse_timestamp

_HEX = re.compile(r"[0-9a-f]{7,40}")
ENV_LABELS = ("environment", "env")
SERVICE_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app")
FLUX_REVISION = ("kustomize.toolkit.fluxcd.io/revision", "helm.toolkit.fluxcd.io/revision")
FLUX_SUCCESS = {"ReconciliationSucceeded", "InstallSucceeded", "UpgradeSucceeded"}


@dataclass(frozen=True)
class Target:
    service: str
    environment: str


class Context:
    """What translating operator records needs from the rest of the config."""

    def __init__(self, config: DoraConfig, source: str, file: str) -> None:
        self.services = [s.name for s in config.services]
        self.images = ServiceImages(list(config.services))
        self.default_environment = production_environment(config)
        self.patterns = [FilePattern(s.files) for s in config.sources_of("gitops")]
        self.apps = app_repos(config)
        self.config_repos = config_repos(config)
        self.source, self.file = source, file
        self.rows: list[dict[str, Any]] = []
        self.bad: list[dict[str, Any]] = []

    def quarantine(self, where: str, line: int | None, key: str | None, field: str | None,
                   reason: str, raw: Any) -> None:
        text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
        # Names in `where`, `key` and `reason` come from the file: keep them short and printable.
        self.bad.append({"source": self.source, "file": f"{self.file}:{display(where, 200)}",
                         "line": line, "entity": "deployments",
                         "record_key": display(key, 200) if key else None,
                         "field": display(field, 100) if field else None,
                         "reason": display(reason, 500, middle=True), "raw": text[:10_000]})

    def target(self, name: str, labels: dict[str, Any], paths: list[str]) -> Target | None:
        """Service and environment of an operator object.

        Service: the object's name is the service, or the service plus an environment
        (`payments-api-production`, `prod-payments-api`); else `{service}` of a gitops pattern
        in its source path; else a well-known label. Environment: an `environment`/`env` label;
        else `{environment}` of a gitops pattern in its source path; else the rest of the name;
        else the first production environment.
        """
        # A source path is a folder (`envs/prod`) or a file (Helm `valueFiles`).
        clean = [p.strip().removeprefix("./").strip("/") for p in paths]
        from_path = [m for p in clean for candidate in (p, p + "/")
                     for pat in self.patterns if (m := pat.match(candidate))]
        service, rest = None, ""
        for candidate in sorted(self.services, key=len, reverse=True):
            if name == candidate or name.startswith(candidate + "-"):
                service, rest = candidate, name[len(candidate) + 1:]
            elif name.endswith("-" + candidate):
                service, rest = candidate, name[: -len(candidate) - 1]
            if service:
                break
        service = service or next((s for _, s in from_path if s in self.services), None)
        service = service or next((labels[k] for k in SERVICE_LABELS
                                   if labels.get(k) in self.services), None)
        if service is None:
            return None
        environment = (next((str(labels[k]) for k in ENV_LABELS if labels.get(k)), None)
                       or next((e for e, _ in from_path), None) or rest
                       or self.default_environment)
        return Target(service, environment)

    def app_revision(self, target: Target, revision: str) -> tuple[str | None, str]:
        """The app commit an operator revision deployed, or (None, why not)."""
        reasons = []
        if _HEX.fullmatch(revision):
            for config_repo in self.config_repos:
                commit = config_repo.repo.resolve(revision)
                if commit is None:
                    continue
                tag = config_repo.tags_at(commit).get((target.service, target.environment))
                if tag is None:
                    reasons.append(f"config commit {commit[:12]} sets no image for "
                                   f"{target.service} in {target.environment}")
                    continue
                found = resolve_tags({target.service: {tag}}, self.apps)[(target.service, tag)]
                if found:
                    return found, ""
                reasons.append(f"image tag {tag!r} at config commit {commit[:12]} does not "
                               f"resolve to a commit of {target.service}'s app repo")
        app = self.apps.get(target.service)
        if app is not None:
            found = app.resolve_versions([revision])[revision]
            if found:
                return found, ""
        elif not self.config_repos and re.fullmatch(r"[0-9a-f]{40}", revision):
            return revision, ""  # no repo to ask: the manifests live in the app repo itself
        reasons.append(f"revision {revision!r} is not a commit of a gitops config repo nor a "
                       f"commit or tag of {target.service}'s app repo")
        return None, "; ".join(reasons)


def load_objects(path: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Kubernetes objects from a JSON file or a folder of them (a `List`, one object, or an
    array each), and what could not be read as (where, reason)."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    objects: list[dict[str, Any]] = []
    bad: list[tuple[str, str]] = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except RecursionError:
            bad.append((file.name, "not a readable JSON file (nested too deeply)"))
            continue
        except (OSError, ValueError) as exc:  # JSON, UTF-8, or a number too long to read
            bad.append((file.name, f"not a readable JSON file ({exc})"[:300]))
            continue
        items = data.get("items") if isinstance(data, dict) and "items" in data else data
        items = items if isinstance(items, list) else [items]
        for position, item in enumerate(items, start=1):
            if not (isinstance(item, dict) and isinstance(item.get("metadata"), dict)):
                bad.append((f"{file.name}#{position}", "not a Kubernetes object (no metadata)"))
            elif not _storable(item):
                bad.append((f"{file.name}#{position}", "the object holds text that is not "
                            "valid unicode (a lone surrogate escape such as \\ud800)"))
            else:
                objects.append(item)
    return objects, bad


def _storable(value: Any) -> bool:
    """False when any text in `value` cannot be stored as UTF-8 (a JSON `\\ud800` escape)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _labels(obj: dict[str, Any]) -> dict[str, Any]:
    labels = _get(obj, "metadata", "labels")
    return labels if isinstance(labels, dict) else {}


def _row(ctx: Context, deployment_id: str, target: Target, revision: str,
         started: dt.datetime | None, finished: dt.datetime, status: str,
         labels: list[str] | None = None, rollback_of: str | None = None) -> dict[str, Any]:
    if started is not None and started > finished:
        started = None  # an operator clock skew must not make the record invalid
    return {"id": deployment_id, "service": target.service, "environment": target.environment,
            "revision": revision, "started_at": started, "finished_at": finished,
            "status": status, "rollback_of": rollback_of, "fix_for": None, "labels": labels,
            "source": ctx.source}


# ---- Argo CD ------------------------------------------------------------------------------------

def _argocd_paths(spec: dict[str, Any]) -> list[str]:
    sources = [spec.get("source")] + list(spec.get("sources") or [])
    paths = []
    for source in (s for s in sources if isinstance(s, dict)):
        base = str(source.get("path") or "").strip("/")
        paths.append(base)
        for values in _get(source, "helm", "valueFiles") or []:
            paths.append(f"{base}/{values}".strip("/"))
    return [p for p in paths if p]


def read_argocd(ctx: Context, objects: list[dict[str, Any]]) -> None:
    for app in (o for o in objects if o.get("kind") == "Application"):
        name = str(_get(app, "metadata", "name"))
        where = f"Application/{name}"
        target = ctx.target(name, _labels(app), _argocd_paths(app.get("spec") or {}))
        history = _get(app, "status", "history") or []
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
            ctx.rows.append(_row(ctx, f"argocd-{name}-{entry['id']}", target, commit, started,
                                 finished, "success"))
        _argocd_operation(ctx, app, name, target)


def _argocd_operation(ctx: Context, app: dict[str, Any], name: str, target: Target) -> None:
    """A current sync operation that failed (or still runs) is a deployment too."""
    state = _get(app, "status", "operationState") or {}
    status = {"Failed": "failure", "Error": "failure", "Running": "in_progress"}.get(
        state.get("phase"))
    revision = _get(state, "syncResult", "revision") or _get(state, "operation", "sync",
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
    ctx.rows.append(_row(ctx, f"argocd-{name}-op-{stamp}", target, commit, started, finished,
                         status))


# ---- Flux ---------------------------------------------------------------------------------------

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
        elif kind == "Event" and _get(obj, "involvedObject", "kind") in kinds:
            _flux_event(ctx, obj, observed)
    unmatched: set[str] = set()
    for (kind, namespace, name, revision), seen in sorted(observed.items()):
        obj = info.get((kind, namespace, name), {})
        paths = [str(p) for p in (_get(obj, "spec", "path"),) if p]
        target = ctx.target(name, _labels(obj), paths)
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
        ctx.rows.append(_row(ctx, deployment_id, target, commit, times[0], finished,
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
    annotations = _get(event, "metadata", "annotations") or {}
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
        ctx.quarantine(f"Event/{_get(event, 'metadata', 'name')}", None, key[2], exc.field,
                       exc.reason, event)
        return
    observed[(*key, flux_revision(revision))].extend((at, not failed) for at in times)


# ---- Argo Rollouts ------------------------------------------------------------------------------

def _images(pod_spec: Any) -> list[str]:
    containers = list(_get(pod_spec, "containers") or []) + list(
        _get(pod_spec, "initContainers") or [])
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
    runs = [_get(status, "canary", k, "status") for k in
            ("currentStepAnalysisRunStatus", "currentBackgroundAnalysisRunStatus")]
    message = str(status.get("message") or "")
    return any(r in ("Failed", "Error") for r in runs) or "assessed" in message


def read_rollouts(ctx: Context, objects: list[dict[str, Any]], known: pl.DataFrame) -> None:
    replica_sets = {
        (str(_get(o, "metadata", "namespace")),
         str(_get(o, "metadata", "labels", "rollouts-pod-template-hash"))): o
        for o in objects if o.get("kind") == "ReplicaSet"
    }
    deployed = known.filter(pl.col("status") == "success").sort("finished_at", "id")
    for rollout in (o for o in objects if o.get("kind") == "Rollout"):
        status = rollout.get("status") or {}
        aborted = next((c for c in status.get("conditions") or []
                        if isinstance(c, dict) and c.get("reason") == "RolloutAborted"), None)
        if not status.get("abort") and aborted is None:
            continue
        name = str(_get(rollout, "metadata", "name"))
        namespace = str(_get(rollout, "metadata", "namespace"))
        number = _get(rollout, "metadata", "annotations", "rollout.argoproj.io/revision") or "0"
        where, base_id = f"Rollout/{namespace}/{name}", f"rollouts-{name}-{number}"
        target = ctx.target(name, _labels(rollout), [])
        try:
            if target is None:
                raise BadRecord(None, f"Rollout {name!r} matches no service of the config")
            at = parse_timestamp(
                status.get("abortedAt") or (aborted or {}).get("lastTransitionTime"), "abortedAt")
            tag = _service_tag(ctx, target, _images(_get(rollout, "spec", "template", "spec")))
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
            ctx.rows.append(_row(ctx, base_id, target, canary, None, at, "failure", [label]))
            continue
        before = mine.filter(pl.col("finished_at") < shipped["finished_at"][0])
        stable_rs = replica_sets.get((namespace, str(status.get("stableRS"))))
        stable_tag = _service_tag(ctx, target, _images(_get(stable_rs, "spec", "template",
                                                            "spec")))
        stable = (resolve_tags({target.service: {stable_tag}}, ctx.apps)
                  [(target.service, stable_tag)] if stable_tag else None)
        stable = stable or (before["revision"][-1] if before.height else None)
        if stable is None:
            ctx.quarantine(where, None, f"{base_id}-abort", "status.stableRS",
                           "cannot tell which revision the abort went back to: no earlier "
                           "deployment and no stable ReplicaSet in the file", status)
            continue
        ctx.rows.append(_row(ctx, f"{base_id}-abort", target, stable, None, at, "success",
                             ["rollback", label], rollback_of=shipped["id"][0]))


# ---- the source ---------------------------------------------------------------------------------

# What reading an object of an unexpected shape raises (a list where a mapping belongs, a number
# where text belongs, …). Bad *values* are BadRecords, caught where they arise.
_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)
_KIND_NAMES = {"argocd": "an Argo CD", "flux": "a Flux", "rollouts": "an Argo Rollouts"}


def _read(ctx: Context, kind: str, objects: list[dict[str, Any]], known: pl.DataFrame) -> None:
    if kind == "argocd":
        read_argocd(ctx, objects)
    elif kind == "flux":
        read_flux(ctx, objects)
    else:
        read_rollouts(ctx, objects, known)


def _read_guarded(ctx: Context, kind: str, objects: list[dict[str, Any]],
                  known: pl.DataFrame) -> None:
    """Read `objects`; an object whose shape the reader trips over is quarantined, not fatal.

    The readers link objects to each other (Flux events to their Kustomization, Rollouts to
    their ReplicaSets), so they read the whole file at once. When that fails, each object is
    tried alone to find the ones that fail, which are quarantined; the rest are read together.
    """
    rows, bad = len(ctx.rows), len(ctx.bad)
    try:
        _read(ctx, kind, objects, known)
        return
    except _SHAPE_ERRORS:
        del ctx.rows[rows:], ctx.bad[bad:]
    good = []
    for position, obj in enumerate(objects, start=1):
        probe = copy.copy(ctx)
        probe.rows, probe.bad = [], []
        try:
            _read(probe, kind, [obj], known)
        except _SHAPE_ERRORS as exc:
            name = str(_get(obj, "metadata", "name"))[:200]
            what = f"{str(obj.get('kind'))[:60]}/{name}"
            ctx.quarantine(what, position, name, None,
                           f"{what} does not have the shape of {_KIND_NAMES[kind]} object "
                           f"({type(exc).__name__}: {str(exc)[:120]}); it is skipped", obj)
        else:
            good.append(obj)
    try:
        _read(ctx, kind, good, known)
    except _SHAPE_ERRORS as exc:  # only together do they fail: keep none of them
        del ctx.rows[rows:]
        for position, obj in enumerate(good, start=1):
            name = str(_get(obj, "metadata", "name"))[:200]
            ctx.quarantine(f"#{position}", position, name, None,
                           f"the objects of this file cannot be read together "
                           f"({type(exc).__name__}: {str(exc)[:120]})", obj)


def read_operator(source: OperatorSource, config: DoraConfig, name: str,
                  known: pl.DataFrame | None = None) -> FilesResult:
    """Deployments (and quarantine rows) from one `argocd`, `flux` or `rollouts` source.

    `known` holds the deployments of the other sources; rollouts need them to find the
    deployment an abort rolled back.
    """
    path = config.resolve(source.path)
    if not path.exists():
        raise FileNotFoundError(f"source `{name}`: {path} does not exist")
    ctx = Context(config, name, path.name)
    items, unreadable = load_objects(path)
    for where, reason in unreadable:
        ctx.bad.append({"source": name, "file": where, "line": None, "entity": "deployments",
                        "record_key": None, "field": None, "reason": reason, "raw": None})
    _read_guarded(ctx, source.kind, items, known if known is not None else
                  pl.DataFrame(schema=SCHEMAS["deployments"]))
    if source.kind != "rollouts":
        link_rollbacks(ctx.rows, app_ancestry(ctx.apps))
    result = FilesResult()
    result.tally.loaded["deployments"] = len(ctx.rows)
    result.tally.quarantined["deployments"] = len(ctx.bad)
    result.tally.read["deployments"] = len(ctx.rows) + len(ctx.bad)
    result.frames["deployments"] = pl.DataFrame(ctx.rows, schema=SCHEMAS["deployments"])
    result.quarantine = quarantine_frame(ctx.bad)
    return result
