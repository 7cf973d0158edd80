"""The `files` source: a folder of JSON Lines and CSV event files (SOURCES.md).

Every line is read; a good record becomes a canonical row, a bad one a quarantine row with the
file, the line, the field and the reason. Nothing is dropped: read = loaded + quarantined.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from metrics.schema import FILE_NAMES, KEYS, SCHEMAS
from pipelines.landing import LandingRoot, write_batch
from pipelines.sources.base import Tally, quarantine_frame
from pipelines.sources.records import BadRecord, convert, display

RAW_LIMIT = 10_000  # characters of a bad record's raw text kept in quarantine
KEY_LIMIT = 200  # characters of a bad record's key kept in quarantine
# A CSV cell may hold a long text (a commit message); the csv module's default limit (128 KiB)
# would turn a 1 MB message into an unreadable row. Raise it (never lower it) for the process.
CSV_FIELD_LIMIT = 64 * 1024 * 1024
csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))


@dataclass
class FilesResult:
    """Canonical frames per entity, the quarantine frame, and the tally."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    quarantine: pl.DataFrame = field(default_factory=lambda: quarantine_frame([]))
    tally: Tally = field(default_factory=Tally)


def event_files(folder: Path) -> list[tuple[str, Path]]:
    """(entity, file) pairs found in `folder`, e.g. `deployments.jsonl`, `sli.csv`."""
    found = []
    for entity, stem in FILE_NAMES.items():
        for suffix in (".jsonl", ".csv"):
            path = folder / f"{stem}{suffix}"
            if path.is_file():
                found.append((entity, path))
    return found


def read_folder(folder: Path, source: str, timezone: str | None = None,
                known_slos: set[str] | None = None) -> FilesResult:
    """Read every event file of `folder` into canonical frames and quarantine rows."""
    if not folder.is_dir():
        raise FileNotFoundError(f"source `{source}`: folder {folder} does not exist")
    tz = _zone(timezone, source)
    result = FilesResult()
    bad: list[dict[str, Any]] = []
    for entity, path in event_files(folder):
        rows: list[dict[str, Any]] = []
        for line, raw_text, record in _records(path):
            result.tally.read[entity] += 1
            try:
                if isinstance(record, BadRecord):
                    raise record
                row = convert(entity, record, tz)
                _check_known_slo(entity, row, known_slos)
            except BadRecord as exc:
                bad.append(_quarantine_row(source, path.name, line, entity, record, exc, raw_text))
                result.tally.quarantined[entity] += 1
                continue
            rows.append(row | {"source": source})
            result.tally.loaded[entity] += 1
        frame = pl.DataFrame(rows, schema=SCHEMAS[entity], orient="row" if not rows else None)
        prior = result.frames.get(entity)
        result.frames[entity] = frame if prior is None else pl.concat([prior, frame])
    result.quarantine = quarantine_frame(bad)
    return result


def land_folder(landing_root: LandingRoot, source: str, result: FilesResult) -> int:
    """Write the folder's records as landing batches; returns how many batches were new."""
    written = 0
    for entity, frame in result.frames.items():
        written += write_batch(landing_root, "files", source, entity, frame) is not None
    quarantined = write_batch(landing_root, "files", source, "quarantine", result.quarantine)
    written += quarantined is not None
    return written


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


def _records(path: Path) -> Iterator[tuple[int, str, dict[str, Any] | BadRecord]]:
    """(line number, raw text, record or the reason it could not be read) for each record."""
    if path.suffix == ".jsonl":
        yield from _jsonl_records(path)
    else:
        yield from _csv_records(path)


def _jsonl_records(path: Path) -> Iterator[tuple[int, str, dict[str, Any] | BadRecord]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, raw.decode("utf-8", "replace"), BadRecord(None, "line is not UTF-8")
                continue
            if not text.strip():
                continue
            yield number, text.rstrip("\r\n"), _parse_json_object(text)


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


def _csv_records(path: Path) -> Iterator[tuple[int, str, dict[str, Any] | BadRecord]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        yield 1, data[:RAW_LIMIT].decode("utf-8", "replace"), BadRecord(None, "file is not UTF-8")
        return
    # NUL characters are kept: a cell holding one is quarantined by the field's check, as in
    # JSON Lines, rather than silently loaded with a replacement character.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield reader.line_num, "", BadRecord(None, f"CSV header cannot be read ({exc})")
        return
    header = [h.strip() for h in header]
    twice = sorted({h for h in header if h and header.count(h) > 1})
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, "", BadRecord(None, f"CSV row cannot be read ({exc})")
            continue
        if not any(c.strip() for c in cells):
            continue
        raw = _csv_line(cells)
        if twice:
            # Which of the two columns holds the value is anyone's guess: never pick one.
            name = display(twice[0])
            yield reader.line_num, raw, BadRecord(
                name, f"column `{name}` appears twice in the header")
            continue
        if len(cells) != len(header):
            yield reader.line_num, raw, BadRecord(
                None, f"row has {len(cells)} cells but the header has {len(header)}"
            )
            continue
        # A column with no name (a trailing comma in the header) may only hold empty cells.
        pairs = list(zip(header, cells, strict=True))
        stray = next((i for i, (h, c) in enumerate(pairs) if not h and c.strip()), None)
        if stray is not None:
            yield reader.line_num, raw, BadRecord(
                None, f"column {stray + 1} has a value but no name in the header")
            continue
        # An empty cell is null (SOURCES.md).
        yield reader.line_num, raw, {h: (c if c != "" else None) for h, c in pairs if h}


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


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
