"""Raw landing: immutable Parquet batches, one folder per source partition and entity.

Ingest steps only add files here (and compact old ones, below), so any number of them can run
at once, in any number of processes or machines, with no shared writer; the warehouse build is
the one reader that turns them into tables. A batch's file name starts with a sortable sequence
(UTC nanoseconds), so "last record wins" means "latest batch wins", and ends with the Dagster run
that wrote it (when known).
A batch identical to the newest batch of its folder is not written again: ingesting the same
input twice leaves the landing (and therefore the warehouse) unchanged, while content that comes
back after a change (a value edited back) lands again and is newest again.

This is how API sources (`github`, `pagerduty`, `jira`, …) land: they accumulate. So that a
long-lived installation does not re-read an ever-growing pile of batches, a folder holding more
than `COMPACT_AT` batches is compacted when a batch is written to it (`compact`): its batches
become one that keeps, per key and source, only the version the build would keep from that
folder, in the order they were landed. The build keeps the same versions: the order of a key's
versions within a source is decided inside one folder, since an API source always lands a key in
the same partition (GitHub keys carry the repository; other sources have one partition).
Snapshot sources (`files`, `git`, …) land through `pipelines.snapshot` instead, which replaces
what they held.

Layout: ``<root>/<source>/<partition>/<entity>/<sequence>-<hash>[-<run id>].parquet``.

The root is a local folder (a `Path`) or an object-store URL handled by fsspec
(``s3://bucket/prefix`` with `s3fs`, ``gs://…`` with `gcsfs`, ``az://…`` with `adlfs`,
``memory://…`` in tests). Locally a batch is written to a temporary name and renamed; on an object
store a single PUT is already atomic (the object appears whole or not at all), so it is written
under its final name. Code that needs a real folder (the GitHub source keeps its raw pages and
cursors with plain file operations) lands into `staged_landing`, which publishes to the store.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from metrics.schema import KEYS, conform, empty

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

LandingRoot = Path | str
"""A local folder (`Path`) or an fsspec URL (`str`, e.g. ``s3://bucket/prefix``)."""

_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")
# `<20-digit sequence>-<20-hex hash>[-<run>].<suffix>`: a batch or a raw page, never rewritten.
_IMMUTABLE = re.compile(
    r"^\d{20}-(?P<digest>[0-9a-f]{20})(?:-[A-Za-z0-9._=-]+)?\.(?:parquet|jsonl\.gz)$")
_RUN: ContextVar[str | None] = ContextVar("dora_landing_run", default=None)
# A snapshot source's manifest (`pipelines.snapshot`), in its partition's folder.
MANIFEST = "snapshot.json"


def safe_segment(value: str) -> str:
    """A path segment that cannot climb out of its folder (`../`, slashes, NUL are replaced)."""
    cleaned = _SAFE.sub("_", value).strip("._") or "_"
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return cleaned if cleaned == value else f"{cleaned[:80]}-{digest}"


def landing_root(value: str | Path) -> LandingRoot:
    """`value` as a landing root: a `Path` for local folders (and ``file://`` URLs), else the URL
    without a trailing slash."""
    if isinstance(value, Path):
        return value
    if "://" not in value:
        return Path(value)
    protocol, _, rest = value.partition("://")
    if protocol in ("file", "local"):
        return Path(rest)
    return f"{protocol}://{rest.rstrip('/')}"


def is_remote(root: str | Path) -> bool:
    """True when `root` is an object-store URL rather than a local folder."""
    return isinstance(landing_root(root), str)


def _filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    return fs, path.rstrip("/")


@contextmanager
def landing_run(run_id: str | None) -> Iterator[None]:
    """Name every batch written inside this block after the Dagster run `run_id`."""
    token = _RUN.set(safe_segment(run_id) if run_id else None)
    try:
        yield
    finally:
        _RUN.reset(token)


class Store:
    """Bytes under a landing root, local (a `Path`) or on an object store (an fsspec URL)."""

    def __init__(self, root: LandingRoot) -> None:
        self.root = landing_root(root)
        if isinstance(self.root, str):
            self.fs, self.base = _filesystem(self.root)
        else:
            self.fs, self.base = None, str(self.root)

    def path(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def read(self, rel: str) -> bytes | None:
        try:
            if self.fs is not None:
                return self.fs.cat_file(self.path(rel))
            return Path(self.path(rel)).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write(self, rel: str, data: bytes) -> None:
        """Write whole or not at all: one PUT on a store, a temporary file renamed locally."""
        if self.fs is not None:
            self.fs.pipe_file(self.path(rel), data)
            return
        final = Path(self.path(rel))
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.rename(final)  # atomic on POSIX, replacing what was there

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.path(rel)) if self.fs is not None else Path(
            self.path(rel)).is_file()

    def listing(self, rel: str) -> list[str]:
        """Parquet files under `rel/<entity>/`, relative to `rel`."""
        if self.fs is not None:
            found = self.fs.glob(f"{self.path(rel)}/*/*.parquet")
            return sorted(p[len(self.path(rel)) + 1:] for p in found)
        folder = Path(self.path(rel))
        return sorted(p.relative_to(folder).as_posix() for p in folder.glob("*/*.parquet"))

    def remove(self, rel: str) -> None:
        """Remove a file; one already gone (another process removed it) is not an error."""
        if self.fs is not None:
            with suppress(FileNotFoundError):
                self.fs.rm_file(self.path(rel))
        else:
            Path(self.path(rel)).unlink(missing_ok=True)

    def names(self, folder: str) -> list[str]:
        """The names of the Parquet files in `folder`, sorted (oldest batch first)."""
        if self.fs is not None:
            return sorted(p.rsplit("/", 1)[-1] for p in self.fs.glob(
                f"{self.path(folder)}/*.parquet"))
        return sorted(p.name for p in Path(self.path(folder)).glob("*.parquet"))

    def location(self, rel: str) -> Path | str:
        """`rel` as the rest of the code names landing files: a `Path`, or a URL."""
        return Path(self.path(rel)) if self.fs is None else f"{self.root}/{rel}"

    def frame(self, rel: str) -> pl.DataFrame:
        if self.fs is not None:
            return pl.read_parquet(io.BytesIO(self.fs.cat_file(self.path(rel))))
        return pl.read_parquet(self.path(rel))



def _batch_name(digest: str) -> str:
    run = _RUN.get()
    return f"{time.time_ns():020d}-{digest}{f'-{run}' if run else ''}.parquet"


def batch_dir(root: Path, source: str, partition: str, entity: str) -> Path:
    """The folder that holds one partition's batches of one entity (a local root)."""
    return root / _folder(source, partition, entity)


def write_batch(
    root: LandingRoot, source: str, partition: str, entity: str, frame: pl.DataFrame
) -> Path | str | None:
    """Land `frame` (conformed to the entity's schema) as a new batch.

    Returns the new file (a `Path`, or a URL on an object store), or None when the frame is empty
    or identical to the newest batch of its folder. An `_updated_at` column (an API source's
    update time of each record) is kept: the build prefers the newer version of a record by it.
    """
    updated = frame.select(pl.col("_updated_at").cast(pl.Datetime("us", "UTC"))) \
        if "_updated_at" in frame.columns else None
    frame = conform(entity, frame)
    if updated is not None and updated["_updated_at"].null_count() < frame.height:
        frame = frame.with_columns(updated["_updated_at"])
    if frame.height == 0:
        return None
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    digest = hashlib.sha256(frame.hash_rows(seed=0).to_numpy().tobytes()).hexdigest()[:20]
    store = Store(root)
    folder = _folder(source, partition, entity)
    if _newest_is(store.names(folder), digest):
        return None
    rel = f"{folder}/{_batch_name(digest)}"
    store.write(rel, buffer.getvalue())  # whole or not at all: a killed step leaves no half batch
    compact(store.root, source, partition, entity)
    return store.location(rel)


def _folder(source: str, partition: str, entity: str) -> str:
    """One partition's folder of one entity's batches, relative to the landing root."""
    return "/".join([safe_segment(source), safe_segment(partition), safe_segment(entity)])


COMPACT_AT = 32  # batches in one folder; more are compacted into one
# Only batches older than this are merged (and deleted): a build that listed them a moment ago
# still finds them, as with snapshot files (`pipelines.snapshot.GRACE_SECONDS`).
COMPACT_GRACE = 3600
ORIGIN = ("_batch_name", "_batch_row")  # where a compacted row was first landed


def compact(root: LandingRoot, source: str, partition: str, entity: str,
            at: int = COMPACT_AT, grace: float = COMPACT_GRACE) -> bool:
    """Compact the folder of `entity` batches of one source partition when it holds more than
    `at` batches older than `grace` seconds; returns whether it did.

    The batches become one, named like the newest of them (so the newest content is still
    recognised and not landed twice, and the batch keeps its place among other folders') and
    holding, per key and source, the one row the build would keep from these batches
    (`pipelines.build.latest_by_key`: the newest by update time, then by landing order, then by
    row), in landing order: the warehouse is the same. Younger batches are left alone: one being
    written, or just listed by a build, is not merged away under it.
    """
    return _compact_folder(Store(root), _folder(source, partition, entity), entity, at, grace)


def _compact_folder(store: Store, folder: str, entity: str, at: int = COMPACT_AT,
                    grace: float = COMPACT_GRACE) -> bool:
    """`compact` of one batch folder (relative to the store's root) of `entity` batches."""
    cutoff = time.time_ns() - int(grace * 1e9)
    names = [n for n in store.names(folder) if n[:20].isdigit() and int(n[:20]) <= cutoff]
    if len(names) <= at:
        return False
    # A snapshot's files are listed by its manifest (`pipelines.snapshot`): never merged here.
    if store.exists(f"{folder.rsplit('/', 1)[0]}/{MANIFEST}"):
        return False
    blobs = [store.read(f"{folder}/{n}") for n in names]
    if any(b is None for b in blobs):
        return False  # another process compacted this folder meanwhile
    merged = pl.concat([with_origin(pl.read_parquet(io.BytesIO(b)), n)
                        for n, b in zip(names, blobs, strict=True)], how="diagonal_relaxed")
    keys = [*KEYS[entity], *([] if "source" in KEYS[entity] else ["source"])]
    order = [c for c in ("_updated_at", *ORIGIN) if c in merged.columns]
    kept = keep_newest(merged, keys, order).sort(list(ORIGIN))
    buffer = io.BytesIO()
    kept.write_parquet(buffer, compression="zstd", statistics=False)
    newest = _IMMUTABLE.match(names[-1])
    # Named after the newest batch it merges (its place among the folders' batches), and after
    # the batches it merges: two processes compacting the same folder at once (their inputs
    # listed before either wrote) write two files, never one over the other's rows. The build
    # reads both; the next compaction merges them by where each row was first landed.
    merges = hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()[:12]
    name = (f"{names[-1][:20]}-{newest.group('digest') if newest else ''}"
            f"-compacted-{merges}.parquet")
    store.write(f"{folder}/{name}", buffer.getvalue())
    for n in names:
        if n != name:
            store.remove(f"{folder}/{n}")
    return True


def keep_newest(frame: pl.DataFrame, keys: list[str], order: list[str]) -> pl.DataFrame:
    """Per key, the row that comes last in `order` (nulls first; `order` must tell every two
    rows of a key apart), sorted by key. One sort, no hashing of the keys (on a 1M-commit
    landing a second faster than `unique`). The build's `latest_by_key` and `compact` keep
    the same row with it."""
    last = pl.int_range(pl.len()) == pl.len() - 1
    for key in keys:  # the next row has another key (nulls equal, as `unique` has them)
        last = last | pl.col(key).ne_missing(pl.col(key).shift(-1))
    return (frame.sort([*keys, *order], nulls_last=[True] * len(keys) + [False] * len(order))
            .filter(last))


def with_origin(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """`frame` (read from batch file `name`) with where each row was first landed: the batch's
    name and the row's position in it (kept as they are in a compacted batch)."""
    if all(c in frame.columns for c in ORIGIN):
        return frame
    return frame.with_columns(pl.lit(name.removesuffix(".parquet")).alias("_batch_name"),
                              pl.int_range(pl.len(), dtype=pl.Int64).alias("_batch_row"))


def _newest_is(names: list[str], digest: str) -> bool:
    """True when the newest of these batch names holds content `digest`."""
    return bool(names) and _digest(names[-1]) == digest


def _name(file: Path | str) -> str:
    return file.name if isinstance(file, Path) else file.rsplit("/", 1)[-1]


def batch_files(root: LandingRoot, entity: str) -> list[Path | str]:
    """Every landed batch of `entity`, oldest first."""
    root = landing_root(root)
    pattern = f"*/*/{safe_segment(entity)}/*.parquet"
    if isinstance(root, str):
        fs, base = _filesystem(root)
        files: Iterable[Path | str] = [root + p[len(base):] for p in fs.glob(f"{base}/{pattern}")]
    elif not root.exists():
        return []
    else:
        files = root.glob(pattern)
    return sorted(files, key=lambda p: (_name(p), str(p)))


def _read_all(files: list[Path | str]) -> list[pl.DataFrame]:
    """Every file as a frame, in order; object-store files are fetched concurrently."""
    paths = {f: _filesystem(f)[1] for f in files if isinstance(f, str)}
    blobs: dict[str, bytes] = {}
    if paths:
        fs, _ = _filesystem(next(iter(paths)))
        blobs = fs.cat(list(paths.values()))
    return [pl.read_parquet(f if isinstance(f, Path) else io.BytesIO(blobs[paths[f]]))
            for f in files]


def read_entity(root: LandingRoot, entity: str) -> pl.DataFrame:
    """All landed records of `entity`, oldest batch first, with `_batch` (its order) attached."""
    files = batch_files(root, entity)
    if not files:
        return empty(entity).with_columns(pl.lit(0, pl.Int64).alias("_batch"))
    frames = [
        conform(entity, frame).with_columns(pl.lit(i, pl.Int64).alias("_batch"))
        for i, frame in enumerate(_read_all(files))
    ]
    return pl.concat(frames, how="vertical")


@contextmanager
def staged_landing(root: LandingRoot, prefetch: Iterable[str] = ()) -> Iterator[Path]:
    """A local folder to land into, for code that needs real files.

    A local `root` is yielded as it is. For an object-store root, a scratch folder is yielded:
    first filled with the `prefetch` paths (files or folders, relative to the root; e.g. a
    repository's sync cursor), then, when the block ends (normally or by an exception, so partial
    progress is kept), published: every new immutable file first (skipped when the newest file of
    that folder on the store has the same content hash), then the changed mutable files (such as
    cursors), so a cursor never reaches the store before the data it covers.
    """
    root = landing_root(root)
    if isinstance(root, Path):
        yield root
        return
    fs, base = _filesystem(root)
    with tempfile.TemporaryDirectory(prefix="dora-landing-") as scratch:
        local = Path(scratch)
        fetched: dict[str, bytes] = {}
        for relative in prefetch:
            remote = f"{base}/{relative.strip('/')}"
            paths = fs.find(remote) if fs.isdir(remote) else [remote] if fs.isfile(remote) else []
            for path in paths:
                rel = path[len(base):].lstrip("/")
                fetched[rel] = fs.cat_file(path)
                (local / rel).parent.mkdir(parents=True, exist_ok=True)
                (local / rel).write_bytes(fetched[rel])
        try:
            yield local
        except BaseException as exc:
            # What was landed before the failure is kept; the block's error stays the one
            # raised (a publish failing too, e.g. the store unreachable, is noted on it).
            try:
                publish(local, root, unchanged=fetched)
            except Exception as also:  # noqa: BLE001 - any: it is reported on `exc`
                exc.add_note(f"publishing what was landed to {root} also failed: "
                             f"{type(also).__name__}: {also}")
            raise
        publish(local, root, unchanged=fetched)


def publish(local: Path, root: str, unchanged: dict[str, bytes] | None = None) -> int:
    """Copy the files under `local` to the object-store `root` (see `staged_landing`).

    `unchanged` maps relative paths to the bytes they were fetched with; files still holding those
    bytes are not uploaded again. Returns how many files were uploaded.
    """
    fs, base = _filesystem(root)
    unchanged = unchanged or {}
    immutable: list[tuple[str, Path]] = []
    mutable: list[tuple[str, Path]] = []
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        rel = path.relative_to(local).as_posix()
        if path.suffix == ".partial" or unchanged.get(rel) == path.read_bytes():
            continue
        (immutable if _IMMUTABLE.match(path.name) else mutable).append((rel, path))
    newest: dict[str, str] = {}  # folder -> digest of its newest immutable file
    uploaded = 0
    for rel, path in immutable:
        folder = f"{base}/{rel.rsplit('/', 1)[0]}" if "/" in rel else base
        if folder not in newest:
            names = sorted(p.rsplit("/", 1)[-1] for p in fs.glob(f"{folder}/*"))
            names = [n for n in names if _IMMUTABLE.match(n)]
            newest[folder] = _digest(names[-1]) if names else ""
        digest = _digest(path.name)
        if digest == newest[folder]:
            continue  # the same content is already the newest there
        fs.pipe_file(f"{base}/{rel}", path.read_bytes())
        newest[folder] = digest
        uploaded += 1
    for rel, path in mutable:
        fs.pipe_file(f"{base}/{rel}", path.read_bytes())
        uploaded += 1
    # The batches were staged in an empty folder, where there was nothing to compact: the
    # store's folders that received one are compacted now, by the same rule as local ones.
    store = Store(root)
    for folder in sorted({rel.rsplit("/", 1)[0] for rel, _path in immutable if "/" in rel}):
        entity = folder.rsplit("/", 1)[-1]
        if entity in KEYS and folder.count("/") == 2:  # <source>/<partition>/<entity>
            _compact_folder(store, folder, entity)
    return uploaded


def _digest(name: str) -> str:
    found = _IMMUTABLE.match(name.rsplit("/", 1)[-1])
    return found.group("digest") if found else ""
