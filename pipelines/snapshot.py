"""Snapshot partitions of the landing: what a snapshot source (`files`, `git`, …) holds now.

A snapshot source lands its whole current content at every run, as *parts* (one per input: an
event file, a repository, an operator export), each one immutable Parquet file per entity. A
manifest, ``<root>/<kind>/<source>/snapshot.json``, written last and atomically, lists the parts
of the latest run in order; the warehouse build reads only the files it lists. So a record
removed from a file is gone, a value edited back is back, a fixed bad line leaves `quarantine`.

A part whose input fingerprint (its content hash and the settings that shape it) matches the
manifest is reused without reading the input again; a part whose rows match a file already
present reuses that file. Files no manifest refers to any more are deleted once they are older
than `GRACE_SECONDS`, so a run that is still writing its parts never loses them.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from metrics.schema import conform, empty
from pipelines.landing import (
    MANIFEST,
    LandingRoot,
    Store,
    _batch_name,
    _digest,
    _read_all,
    batch_files,
    safe_segment,
)

SNAPSHOT_KINDS = ("files", "git", "gitops", "argocd", "flux", "rollouts")
# A file no manifest lists is deleted only after this long: a concurrent run of the same source
# may have written it and not yet its manifest.
GRACE_SECONDS = 3600


@dataclass
class Part:
    """One input of a snapshot source and where its records landed."""

    name: str  # the input: `deployments.jsonl`, a repository, an export file
    fingerprint: str  # decides whether the input changed ("": read it every run)
    files: dict[str, str] = field(default_factory=dict)  # entity -> file, relative to the source
    tally: dict[str, dict[str, int]] = field(default_factory=dict)  # read/loaded/quarantined


def content_digest(entity: str, frame: pl.DataFrame, fingerprint: str) -> str:
    """What names a part's file: the input's fingerprint, else the rows themselves."""
    content = (fingerprint.encode() if fingerprint else
               frame.hash_rows(seed=0).to_numpy().tobytes() + str(frame.height).encode())
    return hashlib.sha256(content + entity.encode()).hexdigest()[:20]


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    """A part's file content."""
    buffer = io.BytesIO()
    # zstd level 1: files about as small as the default level's, written in half the time.
    frame.write_parquet(buffer, compression="zstd", compression_level=1, statistics=False)
    return buffer.getvalue()


def encode(frames: dict[str, pl.DataFrame], fingerprint: str) -> dict[str, tuple[str, bytes]]:
    """An input's frames as the files `Snapshot.add_encoded` lands: entity -> (digest, bytes);
    empty frames give none."""
    out = {}
    for entity, frame in frames.items():
        frame = conform(entity, frame)
        if frame.height:
            out[entity] = (content_digest(entity, frame, fingerprint), parquet_bytes(frame))
    return out


def partition(kind: str, source: str) -> str:
    """The folder of a source's snapshot, relative to the landing root."""
    return f"{safe_segment(kind)}/{safe_segment(source)}"


def read_manifest(store: Store, folder: str) -> list[Part] | None:
    """The parts of a source's latest snapshot, or None when it never landed one."""
    data = store.read(f"{folder}/{MANIFEST}")
    if data is None:
        return None
    return [Part(**p) for p in json.loads(data)["parts"]]


def tally_dict(read: Counter, loaded: Counter, quarantined: Counter) -> dict[str, dict[str, int]]:
    """A tally as plain counts, for the manifest."""
    return {"read": dict(read), "loaded": dict(loaded), "quarantined": dict(quarantined)}


class Snapshot:
    """Writing one source's snapshot: reuse or add each part, then `commit`."""

    def __init__(self, root: LandingRoot, kind: str, source: str) -> None:
        self.store = Store(root)
        self.folder = partition(kind, source)
        self.prior = {p.name: p for p in read_manifest(self.store, self.folder) or []}
        self.parts: list[Part] = []
        self.new_files = 0
        self._present = self.store.listing(self.folder)
        self._prior_files = frozenset(self._present)

    def reusable(self, name: str, fingerprint: str) -> Part | None:
        """The landed part of input `name` when its fingerprint is unchanged (and files kept),
        now a part of this snapshot."""
        part = self.landed(name, fingerprint)
        if part is not None:
            self.reuse(part)
        return part

    def landed(self, name: str, fingerprint: str) -> Part | None:
        """The landed part of input `name` when its fingerprint is unchanged (and files kept);
        changes nothing, so it may be asked from other threads."""
        part = self.prior.get(name)
        if not fingerprint or part is None or part.fingerprint != fingerprint:
            return None
        if not all(f in self._prior_files for f in part.files.values()):
            return None
        return part

    def reuse(self, part: Part) -> None:
        """Make a landed part (`landed`) a part of this snapshot."""
        self.parts.append(part)

    def add(self, name: str, fingerprint: str, frames: dict[str, pl.DataFrame],
            tally: dict[str, dict[str, int]]) -> Part:
        """Land the records of input `name` (empty frames land nothing) as a new part."""
        part = Part(name, fingerprint, {}, tally)
        for entity, frame in frames.items():
            frame = conform(entity, frame)
            if frame.height == 0:
                continue
            digest = content_digest(entity, frame, fingerprint)
            part.files[entity] = self._present_file(entity, digest) or self._land(
                entity, digest, parquet_bytes(frame))
        self.parts.append(part)
        return part

    def add_encoded(self, name: str, fingerprint: str, files: dict[str, tuple[str, bytes]],
                    tally: dict[str, dict[str, int]]) -> Part:
        """Land input `name` as a new part from its files already encoded (`encode`, which
        may run in other threads)."""
        part = Part(name, fingerprint, {}, tally)
        for entity, (digest, data) in files.items():
            part.files[entity] = self._present_file(entity, digest) or self._land(
                entity, digest, data)
        self.parts.append(part)
        return part

    def _present_file(self, entity: str, digest: str) -> str | None:
        """A file of `entity` already holding these rows, if any (then it is pointed at)."""
        prefix = f"{safe_segment(entity)}/"
        same = [f for f in self._present if f.startswith(prefix) and _digest(f) == digest]
        return same[-1] if same else None

    def _land(self, entity: str, digest: str, data: bytes) -> str:
        rel = f"{safe_segment(entity)}/{_batch_name(digest)}"
        self.store.write(f"{self.folder}/{rel}", data)
        self._present.append(rel)
        self.new_files += 1
        return rel

    def commit(self, grace: float = GRACE_SECONDS) -> int:
        """Publish the snapshot (only when it changed), then delete stale files; returns how many
        new batch files this snapshot wrote."""
        text = json.dumps({"parts": [asdict(p) for p in self.parts]}, indent=1,
                          sort_keys=True).encode()
        if self.store.read(f"{self.folder}/{MANIFEST}") != text:
            self.store.write(f"{self.folder}/{MANIFEST}", text)
        self.collect(grace)
        return self.new_files

    def collect(self, grace: float = GRACE_SECONDS) -> int:
        """Delete files of this source that the snapshot does not list, once older than `grace`
        seconds (their name starts with their creation time); returns how many were deleted."""
        listed = {f for p in self.parts for f in p.files.values()}
        cutoff = time.time_ns() - int(grace * 1e9)
        removed = 0
        for rel in self.store.listing(self.folder):
            stamp = rel.rsplit("/", 1)[-1][:20]
            if rel not in listed and stamp.isdigit() and int(stamp) <= cutoff:
                self.store.remove(f"{self.folder}/{rel}")
                removed += 1
        return removed


def landed_files(root: LandingRoot, entity: str, sources: list[tuple[str, str]]
                 ) -> list[Path | str]:
    """The landing files of `entity` the build should read, in precedence order within a source.

    `sources` lists the configured sources as (kind, name) in config order. A snapshot source
    contributes the files of its latest manifest; a snapshot partition no configured source owns
    any more contributes nothing (what it held is gone); a partition without a manifest (batches
    written by an older version, or by hand) and every API source contribute all their batches.
    """
    store = Store(root)
    configured = {(safe_segment(kind), safe_segment(name)) for kind, name in sources}
    manifests: dict[tuple[str, str], list[Part] | None] = {}
    chosen: list[Path | str] = []
    listed: list[Path | str] = []
    prefix = f"{safe_segment(entity)}/"
    for file in batch_files(root, entity):
        text = str(file)
        kind, part = text[len(str(store.root)) + 1:].split("/")[:2]
        if kind not in SNAPSHOT_KINDS:
            chosen.append(file)
            continue
        if (kind, part) not in manifests:
            manifests[(kind, part)] = read_manifest(store, f"{kind}/{part}")
            found = manifests[(kind, part)]
            if found is not None and (kind, part) in configured:
                base = store.root / kind / part if isinstance(store.root, Path) else \
                    f"{store.root}/{kind}/{part}"
                listed += [base / f if isinstance(base, Path) else f"{base}/{f}"
                           for p in found for f in p.files.values() if f.startswith(prefix)]
        if manifests[(kind, part)] is None:
            chosen.append(file)
    return chosen + listed


def read_landed(root: LandingRoot, entity: str, sources: list[tuple[str, str]],
                files: list[Path | str] | None = None) -> pl.DataFrame:
    """Every landed record of `entity` the build should see (`landed_files`), with its
    precedence: `_rank` (the position in `sources` of the row's `source`, -1 when unknown: a
    later-listed source wins a shared key) and `_seq` (landing order within a source)."""
    if files is None:
        files = landed_files(root, entity, sources)
    ranks = {name: position for position, (_, name) in enumerate(sources)}
    frames = [
        conform(entity, frame).with_columns(
            pl.lit(i, pl.Int64).alias("_seq"),
            *([frame["_updated_at"].cast(pl.Datetime("us", "UTC"))]
              if "_updated_at" in frame.columns else []))
        for i, frame in enumerate(_read_all(files))
    ]
    if not frames:
        return empty(entity).with_columns(pl.lit(0, pl.Int64).alias("_seq"),
                                          pl.lit(0, pl.Int64).alias("_rank"))
    out = pl.concat(frames, how="diagonal_relaxed")
    return out.with_columns(pl.col("source").replace_strict(ranks, default=-1,
                                                            return_dtype=pl.Int64).alias("_rank"))
