"""The `files` source: a folder of JSON Lines and CSV event files (docs/config.md).

Every line is read; a good record becomes a canonical row, a bad one a quarantine row with the
file, the line, the field and the reason. Nothing is dropped: read = loaded + quarantined.
JSON Lines files are read in bulk (`bulk`): only lines that are not plainly good go through the
per-record models (`records`), which load them or say why not. The folder lands as a snapshot,
one part per file: a file whose content hash is unchanged since the last run is not read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from metrics.schema import FILE_NAMES, KEYS, SCHEMAS
from pipelines.landing import LandingRoot
from pipelines.snapshot import Part, Snapshot, encode, tally_dict
from pipelines.sources.base import RAW_LIMIT, Tally, quarantine_frame, shown_path
from pipelines.sources.bulk import line_offsets, read_bulk, split_lines
from pipelines.sources.csv_records import (
    BOM,
    csv_bulk,
    csv_records,
    is_utf8,
    simple_csv,
)
from pipelines.sources.records import BadRecord, convert, display

KEY_LIMIT = 200  # characters of a bad record's key kept in quarantine
# Part of every file's fingerprint: change it when reading changes, and every file is read again.
READER_VERSION = "files-2"


@dataclass
class FilePart:
    """What one input gave: its name, fingerprint, frames (entities and `quarantine`), tally."""

    name: str
    fingerprint: str
    frames: dict[str, pl.DataFrame]
    tally: Tally


@dataclass
class FilesResult:
    """Canonical frames per entity, the quarantine frame, the tally, and the parts (inputs)."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    quarantine: pl.DataFrame = field(default_factory=lambda: quarantine_frame([]))
    tally: Tally = field(default_factory=Tally)
    parts: list[FilePart] = field(default_factory=list)

    def add(self, part: FilePart) -> None:
        """Add one input's records (in input order: a later record of a key wins)."""
        self.parts.append(part)
        self.tally.add(part.tally)
        for entity, frame in part.frames.items():
            if entity == "quarantine":
                self.quarantine = pl.concat([self.quarantine, frame])
            else:
                prior = self.frames.get(entity)
                self.frames[entity] = frame if prior is None else pl.concat([prior, frame])


def event_files(folder: Path) -> list[tuple[str, Path]]:
    """(entity, file) pairs found in `folder`, e.g. `deployments.jsonl`, `sli.csv` (symbolic
    links included: where they lead is checked when they are read)."""
    found = []
    for entity, stem in FILE_NAMES.items():
        for suffix in (".jsonl", ".csv"):
            path = folder / f"{stem}{suffix}"
            if path.is_symlink() or path.is_file():
                found.append((entity, path))
    return found


def read_folder(folder: Path, source: str, timezone: str | None = None,
                known_slos: set[str] | None = None, bulk: bool = True) -> FilesResult:
    """Read every event file of `folder` into canonical frames and quarantine rows.

    `bulk=False` reads JSON Lines record by record only (what the bulk path must agree with).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"source `{source}`: folder {shown_path(folder)} does not exist")
    tz = _zone(timezone, source)
    result = FilesResult()
    for entity, path in event_files(folder):
        data, refused = _open(folder, path)
        if refused:
            result.add(_refused(source, entity, path, refused))
            continue
        result.add(read_file(data, entity, path.name, source, tz, known_slos, bulk))
    return result


# Files read at once by `ingest_folder`: each one's DuckDB query is itself parallel, but reading,
# hashing and landing are not; two in flight keep both cores of a small machine busy.
WORKERS = 2


def ingest_folder(root: LandingRoot, folder: Path, source: str, timezone: str | None = None,
                  known_slos: set[str] | None = None) -> tuple[Tally, int]:
    """Land the folder as the source's snapshot, reading only files that changed since the
    last run; returns (the tally of every file, new landing files written).

    Files are read two at a time; their parts land in the folder's order, one after another.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"source `{source}`: folder {shown_path(folder)} does not exist")
    tz = _zone(timezone, source)
    snapshot = Snapshot(root, "files", source)

    def read(entity: str, path: Path) -> tuple[FilePart, dict[str, tuple[str, bytes]]] | Part:
        """The landed part of the file when unchanged; else its records, encoded for landing."""
        data, refused = _open(folder, path)
        if refused:
            part = _refused(source, entity, path, refused)
        else:
            fingerprint = _fingerprint(data, entity, path.name, timezone, known_slos)
            landed = snapshot.landed(path.name, fingerprint)
            if landed is not None:
                return landed
            part = read_file(data, entity, path.name, source, tz, known_slos)
            part.fingerprint = fingerprint
        return part, encode(part.frames, part.fingerprint)

    tally = Tally()
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="dora-files") as pool:
        for done in [pool.submit(read, entity, path) for entity, path in event_files(folder)]:
            found = done.result()
            if isinstance(found, Part):
                snapshot.reuse(found)
                tally.add(_tally_of(found.tally))
                continue
            part, files = found
            t = part.tally
            snapshot.add_encoded(part.name, part.fingerprint, files,
                                 tally_dict(t.read, t.loaded, t.quarantined))
            tally.add(t)
    return tally, snapshot.commit()


def land_folder(landing_root: LandingRoot, source: str, result: FilesResult,
                kind: str = "files") -> int:
    """Land `result` as the source's snapshot (one part per input); returns new files written."""
    snapshot = Snapshot(landing_root, kind, source)
    parts = result.parts or [FilePart(source, "", {**result.frames,
                                                   "quarantine": result.quarantine},
                                      result.tally)]
    for part in parts:
        _add(snapshot, part)
    return snapshot.commit()


def _add(snapshot: Snapshot, part: FilePart) -> None:
    t = part.tally
    snapshot.add(part.name, part.fingerprint, part.frames,
                 tally_dict(t.read, t.loaded, t.quarantined))


def _tally_of(counts: dict[str, dict[str, int]]) -> Tally:
    tally = Tally()
    tally.read.update(counts.get("read", {}))
    tally.loaded.update(counts.get("loaded", {}))
    tally.quarantined.update(counts.get("quarantined", {}))
    return tally


def _fingerprint(data: bytes, entity: str, name: str, timezone: str | None,
                 known_slos: set[str] | None) -> str:
    """The file's content hash and everything else that shapes what it gives."""
    digest = hashlib.sha256(data).hexdigest()
    slos = sorted(known_slos) if known_slos is not None and entity == "sli_measurements" else None
    return hashlib.sha256(json.dumps([READER_VERSION, entity, name, timezone, slos, digest])
                          .encode()).hexdigest()


def _open(folder: Path, path: Path) -> tuple[bytes, str | None]:
    """The bytes of an event file, or why it is refused (never following a link out of the
    folder, never reading a device or a pipe)."""
    target = path
    if path.is_symlink():
        resolved = path.resolve()
        if not resolved.is_relative_to(folder.resolve()):
            return b"", (f"`{display(path.name)}` is a symbolic link to a file outside the "
                         "source folder; it is not read")
        target = resolved
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return b"", f"`{display(path.name)}` cannot be opened ({exc.strerror})"
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b"", f"`{display(path.name)}` is not a regular file; it is not read"
        return handle.read(), None


def _refused(source: str, entity: str, path: Path, reason: str) -> FilePart:
    """One quarantined record for a file that is not read."""
    tally = Tally()
    tally.read[entity] += 1
    tally.quarantined[entity] += 1
    row = {"source": source, "file": shown_path(path.name), "line": None, "entity": entity,
           "record_key": None, "field": None, "reason": reason, "raw": None}
    return FilePart(path.name, "", {entity: pl.DataFrame(schema=SCHEMAS[entity]),
                                    "quarantine": quarantine_frame([row])}, tally)


def read_file(data: bytes, entity: str, name: str, source: str, tz: ZoneInfo | None = None,
              known_slos: set[str] | None = None, bulk: bool = True) -> FilePart:
    """One event file's records (JSON Lines if `name` ends in `.jsonl`, else CSV)."""
    tally = Tally()
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    loaded = pl.DataFrame(schema={"line_no": pl.Int64})
    if name.endswith(".jsonl"):
        data = data.removeprefix(BOM)  # a byte-order mark is not part of the first record
        starts, ends = line_offsets(data)
        rest = np.arange(1, len(starts) + 1)
        if bulk and is_utf8(data):
            loaded, rest = read_bulk(split_lines(data, ends), entity, known_slos)
        records: Iterable[tuple[int, str, Any]] = (
            _jsonl_record(int(n), data[starts[n - 1]:ends[n - 1]]) for n in rest)
    else:
        fast = simple_csv(data, entity, known_slos) if bulk else None
        if fast is not None:
            loaded, records = fast
        else:
            records = list(csv_records(data))
            if bulk:
                loaded, records = csv_bulk(records, entity, known_slos)
    tally.read[entity] += loaded.height
    tally.loaded[entity] += loaded.height
    for line, raw_text, record in records:
        if record is None:
            continue  # a blank line
        tally.read[entity] += 1
        try:
            if isinstance(record, BadRecord):
                raise record
            row = convert(entity, record, tz)
            _check_known_slo(entity, row, known_slos)
        except BadRecord as exc:
            bad.append(_quarantine_row(source, name, line, entity, record, exc, raw_text))
            tally.quarantined[entity] += 1
            continue
        rows.append(row | {"source": source, "line_no": line})
        tally.loaded[entity] += 1
    frame = loaded.with_columns(pl.lit(source).alias("source"))
    if rows or not loaded.height:
        slow = pl.DataFrame(rows, schema={**SCHEMAS[entity], "line_no": pl.Int64},
                            orient="row" if rows else None)
        frame = pl.concat([frame, slow], how="diagonal_relaxed").sort("line_no") \
            if loaded.height else slow
    frame = frame.select(list(SCHEMAS[entity])).cast(SCHEMAS[entity])
    return FilePart(name, "", {entity: frame, "quarantine": quarantine_frame(bad)}, tally)


def _zone(name: str | None, source: str) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"source `{source}`: unknown timezone {name!r}") from None


def _check_known_slo(entity: str, row: dict[str, Any], known: set[str] | None) -> None:
    if entity == "sli_measurements" and known is not None and row["slo"] not in known:
        raise BadRecord("slo", f"SLO '{display(row['slo'], 80)}' is not in the config's `slos`")


def _jsonl_record(number: int, raw: bytes) -> tuple[int, str, dict[str, Any] | BadRecord | None]:
    """(line number, raw text, record or the reason it could not be read; None when blank)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return number, raw.decode("utf-8", "replace"), BadRecord(None, "line is not UTF-8")
    if not text.strip():
        return number, "", None
    return number, text.rstrip("\r\n"), _parse_json_object(text)


def _parse_json_object(text: str) -> dict[str, Any] | BadRecord:
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except BadRecord as exc:
        return exc
    except json.JSONDecodeError as exc:
        return BadRecord(None, f"line is not valid JSON ({exc.msg} at character {exc.pos + 1})")
    except RecursionError:
        return BadRecord(None, "line is not valid JSON (nested too deeply)")
    except ValueError:
        # Python refuses to read integers of more than 4300 digits (int_max_str_digits).
        return BadRecord(None, "line is not valid JSON (a number is too long to read)")
    if not isinstance(value, dict):
        return BadRecord(None, "line is not a JSON object")
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            name = display(key)
            raise BadRecord(name, f"field `{name}` is given twice")
        seen[key] = value
    return seen


def _quarantine_row(source: str, file: str, line: int, entity: str, record: Any,
                    exc: BadRecord, raw_text: str) -> dict[str, Any]:
    key = None
    if isinstance(record, dict):
        parts = [str(record.get(k)) for k in KEYS[entity] if record.get(k) is not None]
        # The key came from bad input: cut it, and escape what UTF-8 cannot store.
        key = "/".join(parts)[:KEY_LIMIT].encode("utf-8", "backslashreplace").decode() or None
    return {
        "source": source, "file": file, "line": line, "entity": entity, "record_key": key,
        "field": exc.field, "reason": exc.reason, "raw": raw_text[:RAW_LIMIT],
    }


def land_source(root: LandingRoot, kind: str, name: str, fingerprint: str,
                read: Callable[[], FilesResult]) -> tuple[Tally, int]:
    """Land a source read whole (a repository, an export) as its snapshot, calling `read` only
    when `fingerprint` changed since the last run ("" : always); returns (tally, new files)."""
    snapshot = Snapshot(root, kind, name)
    landed = snapshot.reusable(name, fingerprint)
    if landed is not None:
        return _tally_of(landed.tally), snapshot.commit()
    result = read()
    _add(snapshot, FilePart(name, fingerprint, {**result.frames, "quarantine": result.quarantine},
                            result.tally))
    return result.tally, snapshot.commit()
