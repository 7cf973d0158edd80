"""What the operator readers share: the translation context, object loading, row shape."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config import DoraConfig
from pipelines.sources.git import production_environment
from pipelines.sources.gitops import FilePattern, app_repos, config_repos, resolve_tags
from pipelines.sources.images import ServiceImages
from pipelines.sources.records import display

_HEX = re.compile(r"[0-9a-f]{7,40}")
ENV_LABELS = ("environment", "env")
SERVICE_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app")


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


def get(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def labels_of(obj: dict[str, Any]) -> dict[str, Any]:
    labels = get(obj, "metadata", "labels")
    return labels if isinstance(labels, dict) else {}


def row(ctx: Context, deployment_id: str, target: Target, revision: str,
         started: dt.datetime | None, finished: dt.datetime, status: str,
         labels: list[str] | None = None, rollback_of: str | None = None) -> dict[str, Any]:
    if started is not None and started > finished:
        started = None  # an operator clock skew must not make the record invalid
    return {"id": deployment_id, "service": target.service, "environment": target.environment,
            "revision": revision, "started_at": started, "finished_at": finished,
            "status": status, "rollback_of": rollback_of, "fix_for": None, "labels": labels,
            "source": ctx.source}
