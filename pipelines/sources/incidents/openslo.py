"""SLO definitions from OpenSLO v1 and Sloth files in a folder (docs/slos.md).

Each definition gives an SLO's name, service, objective and the PromQL of its good and total
counts per window (`{{.window}}` / `$window` in a query becomes the source's `window`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class SloDefinition:
    """One SLO measured by Prometheus: name, service, objective (0..1), good/total PromQL."""

    slo: str
    service: str
    objective: float
    good: str
    total: str


class SloFileError(ValueError):
    """A definition file that cannot be used; the message names the file and the key."""


def read_definitions(folder: Path) -> list[SloDefinition]:
    """Every SLO of the OpenSLO v1 / Sloth YAML files in `folder`, in file order."""
    if not folder.is_dir():
        raise SloFileError(f"SLO folder {folder} does not exist")
    out: list[SloDefinition] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        except yaml.YAMLError as exc:
            raise SloFileError(f"{path.name}: not valid YAML ({exc})") from None
        indicators = {_get(d, path, "metadata", "name"): d for d in docs
                      if isinstance(d, dict) and d.get("kind") == "SLI"}
        for doc in docs:
            if not isinstance(doc, dict):
                raise SloFileError(f"{path.name}: a document is not a mapping")
            if doc.get("version") == "prometheus/v1":
                out += _sloth(doc, path)
            elif doc.get("apiVersion") == "openslo/v1" and doc.get("kind") == "SLO":
                out.append(_openslo(doc, path, indicators))
    names = [d.slo for d in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SloFileError(f"{folder}: SLO `{twice[0]}` is defined twice")
    return out


def _get(doc: Any, path: Path, *keys: str) -> Any:
    value = doc
    for key in keys:
        if not isinstance(value, dict) or value.get(key) in (None, ""):
            raise SloFileError(f"{path.name}: `{'.'.join(keys)}` is missing")
        value = value[key]
    return value


def _objective(value: Any, path: Path, key: str, percent: bool) -> float:
    try:
        number = float(value) / (100 if percent else 1)
    except (TypeError, ValueError):
        raise SloFileError(f"{path.name}: `{key}` must be a number, got {value!r}") from None
    if not 0 < number < 1:
        raise SloFileError(f"{path.name}: `{key}` must be between 0 and "
                           f"{'100' if percent else '1'} (exclusive), got {value!r}")
    return number


def _openslo(doc: dict[str, Any], path: Path, indicators: dict[str, Any]) -> SloDefinition:
    name = _get(doc, path, "metadata", "name")
    spec = _get(doc, path, "spec")
    objectives = _get(doc, path, "spec", "objectives")
    if not isinstance(objectives, list) or not objectives:
        raise SloFileError(f"{path.name}: SLO `{name}`: `spec.objectives` must be a list")
    target = objectives[0].get("target") if isinstance(objectives[0], dict) else None
    if target is None:
        raise SloFileError(f"{path.name}: SLO `{name}`: `spec.objectives[0].target` is missing")
    indicator = spec.get("indicator")
    if indicator is None and spec.get("indicatorRef") is not None:
        indicator = indicators.get(spec["indicatorRef"])
        if indicator is None:
            raise SloFileError(f"{path.name}: SLO `{name}`: indicatorRef "
                               f"`{spec['indicatorRef']}` names no SLI in the file")
    ratio = _get(indicator, path, "spec", "ratioMetric")
    queries = {}
    for part in ("good", "total"):
        queries[part] = _get(ratio, path, part, "metricSource", "spec", "query")
    return SloDefinition(name, _get(doc, path, "spec", "service"),
                         _objective(target, path, "spec.objectives[0].target", False),
                         queries["good"], queries["total"])


def _sloth(doc: dict[str, Any], path: Path) -> list[SloDefinition]:
    service = _get(doc, path, "service")
    out = []
    for i, slo in enumerate(_get(doc, path, "slos")):
        name = _get(slo, path, "name")
        events = _get(slo, path, "sli", "events")
        errors = _get(events, path, "error_query")
        total = _get(events, path, "total_query")
        out.append(SloDefinition(
            f"{service}-{name}", service,
            _objective(_get(slo, path, "objective"), path, f"slos[{i}].objective", True),
            # Sloth counts errors; good = total - errors.
            f"({total}) - ({errors})", total))
    return out


def with_window(query: str, window: str) -> str:
    """`query` with Sloth's `{{.window}}` (or `$window`) replaced by the source's window."""
    return query.replace("{{.window}}", window).replace("$window", window)
