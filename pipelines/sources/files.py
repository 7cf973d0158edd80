"""The `files` source: a folder of JSON Lines and CSV event files (docs/config.md).

Every line is read; a good record becomes a canonical row, a bad one a quarantine row with the
file, the line, the field and the reason. Nothing is dropped: read = loaded + quarantined.
JSON Lines files are read in bulk (`bulk`): only lines that are not plainly good go through the
per-record models (`records`), which load them or say why not. The folder lands as a snapshot,
one part per file: a file whose content hash is unchanged since the last run is not read again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from metrics.schema import FILE_NAMES, KEYS, SCHEMAS
from pipelines.landing import LandingRoot
from pipelines.snapshot import Snapshot, tally_dict
from pipelines.sources.base import Tally, quarantine_frame, shown_path
from pipelines.sources.bulk import line_offsets, read_bulk, split_lines
from pipelines.sources.records import FIELDS, BadRecord, convert, display

RAW_LIMIT = 10_000  # characters of a bad record's raw text kept in quarantine
KEY_LIMIT = 200  # characters of a bad record's key kept in quarantine
# A CSV cell may hold a long text (a commit message), but not more than this: a bigger one is a
# bad record (with its line). The csv module reads any size, so such a cell never splits a row.
CELL_LIMIT = 64 * 1024 * 1024
csv.field_size_limit(sys.maxsize)
BOM = b"\xef\xbb\xbf"
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


def ingest_folder(root: LandingRoot, folder: Path, source: str, timezone: str | None = None,
                  known_slos: set[str] | None = None) -> tuple[Tally, int]:
    """Land the folder as the source's snapshot, reading only files that changed since the
    last run; returns (the tally of every file, new landing files written)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"source `{source}`: folder {shown_path(folder)} does not exist")
    tz = _zone(timezone, source)
    snapshot = Snapshot(root, "files", source)
    tally = Tally()
    for entity, path in event_files(folder):
        data, refused = _open(folder, path)
        if refused:
            part = _refused(source, entity, path, refused)
        else:
            fingerprint = _fingerprint(data, entity, path.name, timezone, known_slos)
            landed = snapshot.reusable(path.name, fingerprint)
            if landed is not None:
                tally.add(_tally_of(landed.tally))
                continue
            part = read_file(data, entity, path.name, source, tz, known_slos)
            part.fingerprint = fingerprint
        _add(snapshot, part)
        tally.add(part.tally)
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
        if bulk and _is_utf8(data):
            loaded, rest = read_bulk(split_lines(data, ends), entity, known_slos)
        records: Iterable[tuple[int, str, Any]] = (
            _jsonl_record(int(n), data[starts[n - 1]:ends[n - 1]]) for n in rest)
    else:
        fast = _simple_csv(data, entity, known_slos) if bulk else None
        if fast is not None:
            loaded, records = fast
        else:
            records = list(_csv_records(data))
            if bulk:
                loaded, records = _csv_bulk(records, entity, known_slos)
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
    slow = pl.DataFrame(rows, schema={**SCHEMAS[entity], "line_no": pl.Int64},
                        orient="row" if rows else None)
    frame = pl.concat([loaded.with_columns(pl.lit(source).alias("source")), slow],
                      how="diagonal_relaxed") if loaded.height else slow
    frame = frame.sort("line_no").select(list(SCHEMAS[entity])).cast(SCHEMAS[entity])
    return FilePart(name, "", {entity: frame, "quarantine": quarantine_frame(bad)}, tally)


def _csv_bulk(records: list[tuple[int, str, Any]], entity: str, known_slos: set[str] | None
              ) -> tuple[pl.DataFrame, list[tuple[int, str, Any]]]:
    """CSV records through the bulk path: each row's cells given the JSON types the models would
    read them as (`5` a number, `a;b` a list), so what loads in bulk is what the models load;
    the rest is returned for the models, with its original cells."""
    lines, candidates, others = [], [], []
    for record in records:
        text = _as_json(entity, record[2]) if isinstance(record[2], dict) else None
        if text is None:
            others.append(record)
        else:
            lines.append(text)
            candidates.append(record)
    if not lines:
        return pl.DataFrame(schema={"line_no": pl.Int64}), records
    loaded, rest = read_bulk(split_lines("\n".join(lines).encode()), entity, known_slos)
    numbers = np.array([r[0] for r in candidates], dtype=np.int64)
    loaded = loaded.with_columns(pl.Series("line_no", numbers[loaded["line_no"].to_numpy() - 1]))
    others += [candidates[i - 1] for i in rest]
    return loaded, sorted(others, key=lambda r: r[0])


_WHOLE = re.compile(r"-?\d{1,18}")
# A list cell polars may split as the models do: no blank part, nothing `str.strip` removes.
_PLAIN_LIST = r"^[^;\s\x{1c}-\x{1f}]+(;[^;\s\x{1c}-\x{1f}]+)*$"


def _simple_csv(data: bytes, entity: str, known_slos: set[str] | None
                ) -> tuple[pl.DataFrame, list[tuple[int, str, Any]]] | None:
    """A CSV file without quotes, carriage returns, NULs, blank or ragged rows, whose header
    names known fields once each, read with polars: a row is a line, a cell is what lies
    between commas. None for any other file (the csv module reads it)."""
    data = data.removeprefix(BOM)
    if any(c in data for c in (b'"', b"\r", b"\x00")) or not _is_utf8(data):
        return None
    lines = data.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        return None
    header = [h.strip() for h in lines[0].split(",")]
    fields = FIELDS[entity]
    if len(set(header)) != len(header) or any(fields.get(h) is None or
                                              fields[h].kind == "reviews" for h in header):
        return None
    rows = pl.Series("row", lines[1:])
    commas = rows.str.count_matches(",", literal=True)
    if (commas != len(header) - 1).any() or rows.str.replace_all(",", "").str.strip_chars(
            ).eq("").any():
        return None
    cells = rows.str.split_exact(",", len(header) - 1).struct.rename_fields(header).struct.unnest()
    cells = cells.with_columns(pl.when(pl.col(h) != "").then(pl.col(h)) for h in header)
    typed, plain = [], []
    for h in header:
        kind, col = fields[h].kind, pl.col(h)
        if kind == "int":
            plain.append(col.is_null() | col.str.contains(r"^-?\d{1,18}$"))
            typed.append(col.cast(pl.Int64, strict=False))
        elif kind == "bool":
            plain.append(col.is_null() | col.str.to_lowercase().is_in(["true", "false", "1", "0"]))
            typed.append(col.str.to_lowercase().is_in(["true", "1"]))
        elif kind == "list":
            plain.append(col.is_null() | col.str.contains(_PLAIN_LIST))
            typed.append(col.str.split(";"))
        else:
            typed.append(col)
    frame = cells.with_columns(pl.all_horizontal(plain).alias("_plain") if plain else
                               pl.lit(True).alias("_plain"))
    frame = frame.with_row_index("_line", offset=2)
    good = frame.filter("_plain")
    text = good.select(pl.struct(typed).struct.json_encode())
    loaded, rest = read_bulk(split_lines("\n".join(text.to_series()).encode()), entity,
                             known_slos)
    numbers = good["_line"].to_numpy().astype(np.int64)
    loaded = loaded.with_columns(pl.Series("line_no", numbers[loaded["line_no"].to_numpy() - 1]))
    slow = set(numbers[rest - 1].tolist()) | set(frame.filter(~pl.col("_plain"))["_line"])
    records = [(n, lines[n - 1], {h: (c if c != "" else None)
                                  for h, c in zip(header, lines[n - 1].split(","), strict=True)})
               for n in sorted(slow)]
    return loaded, records


def _as_json(entity: str, cells: dict[str, Any]) -> str | None:
    """A CSV row as a JSON object of the types its cells stand for, or None when unsure."""
    fields = FIELDS[entity]
    out: dict[str, Any] = {}
    for name, value in cells.items():
        spec = fields.get(name)
        if spec is None or spec.kind == "reviews":
            return None
        if value is None or spec.kind in ("text", "timestamp"):
            out[name] = value
        elif spec.kind == "int":
            if not _WHOLE.fullmatch(value):
                return None
            out[name] = int(value)
        elif spec.kind == "bool":
            flag = value.strip().lower()
            if flag not in ("true", "false", "1", "0"):
                return None
            out[name] = flag in ("true", "1")
        else:  # a list, `a;b;c` (as `records` reads it)
            out[name] = [p for p in (part.strip() for part in value.split(";")) if p]
    return json.dumps(out, ensure_ascii=False)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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


def _csv_records(data: bytes) -> Iterator[tuple[int, str, dict[str, Any] | BadRecord]]:
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
        if any(len(c) > CELL_LIMIT for c in cells):
            yield reader.line_num, _csv_line(c[:RAW_LIMIT] for c in cells), BadRecord(
                None, f"a cell is larger than {CELL_LIMIT // 2**20} MiB")
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
        # An empty cell is null (docs/config.md).
        yield reader.line_num, raw, {h: (c if c != "" else None) for h, c in pairs if h}


def _csv_line(cells: Iterable[str]) -> str:
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
