"""One `argocd`, `flux` or `rollouts` source: load its objects, read them, guard shapes."""

from __future__ import annotations

import copy
from typing import Any

import polars as pl

from metrics.schema import SCHEMAS
from pipelines.config import DoraConfig, OperatorSource
from pipelines.sources.base import quarantine_frame
from pipelines.sources.files import FilesResult
from pipelines.sources.gitops import app_ancestry, link_rollbacks
from pipelines.sources.operators.argocd import read_argocd
from pipelines.sources.operators.common import Context, get, load_objects
from pipelines.sources.operators.flux import read_flux
from pipelines.sources.operators.rollouts import read_rollouts

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
            name = str(get(obj, "metadata", "name"))[:200]
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
            name = str(get(obj, "metadata", "name"))[:200]
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
