"""CSV event files: the rows of a file as records (the csv module), and the bulk path for them.

A simple file (no quotes, no carriage returns, no blank or ragged rows, a header of known fields
once each) is split by polars, which types its cells as the record models would read them
(`5` a number, `a;b` a list); DuckDB then checks the rest as for JSON Lines (`bulk.read_cells`:
text not blank, timestamps plain and in range, the rules). Any other file goes through the csv
module, and its rows, given JSON types, through the JSON Lines checks (`bulk.read_bulk`). Either
way, what is not loaded in bulk goes to the models with its cells.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from pipelines.sources.base import RAW_LIMIT
from pipelines.sources.bulk import read_bulk, read_cells, split_lines
from pipelines.sources.records import FIELDS, BadRecord, display

# A CSV cell may hold a long text (a commit message), but not more than this: a bigger one is a
# bad record (with its line). The csv module reads any size, so such a cell never splits a row.
CELL_LIMIT = 64 * 1024 * 1024
csv.field_size_limit(sys.maxsize)
BOM = b"\xef\xbb\xbf"


def csv_bulk(records: list[tuple[int, str, Any]], entity: str, known_slos: set[str] | None
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
    # Compact, one line each, newline-ended: rows of one header then read in one parse
    # (`bulk.canonical_query`).
    loaded, rest = read_bulk(split_lines(("\n".join(lines) + "\n").encode()), entity,
                             known_slos)
    numbers = np.array([r[0] for r in candidates], dtype=np.int64)
    loaded = loaded.with_columns(pl.Series("line_no", numbers[loaded["line_no"].to_numpy() - 1]))
    others += [candidates[i - 1] for i in rest]
    return loaded, sorted(others, key=lambda r: r[0])


_WHOLE = re.compile(r"-?\d{1,18}")
# A list cell polars may split as the models do: no blank part, nothing `str.strip` removes.
_PLAIN_LIST = r"^[^;\s\x{1c}-\x{1f}]+(;[^;\s\x{1c}-\x{1f}]+)*$"


def simple_csv(data: bytes, entity: str, known_slos: set[str] | None
                ) -> tuple[pl.DataFrame, list[tuple[int, str, Any]]] | None:
    """A CSV file without quotes, carriage returns, NULs, blank or ragged rows, whose header
    names known fields once each, read with polars: a row is a line, a cell is what lies
    between commas. None for any other file (the csv module reads it)."""
    data = data.removeprefix(BOM)
    if any(c in data for c in (b'"', b"\r", b"\x00")) or not is_utf8(data):
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
    frame = cells.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64))
    good = frame.filter(pl.all_horizontal(plain)) if plain else frame
    loaded = read_cells(good.select("_line", *typed), entity, known_slos)
    slow = np.setdiff1d(frame["_line"].to_numpy(), loaded["line_no"].to_numpy(),
                        assume_unique=True)
    records = [(n, lines[n - 1], {h: (c if c != "" else None)
                                  for h, c in zip(header, lines[n - 1].split(","), strict=True)})
               for n in slow.tolist()]
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
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def is_utf8(data: bytes) -> bool:
    """Whether `data` is valid UTF-8 (as Python's strict decoding says), checked by Arrow
    without building a string: several times faster on a large file."""
    offsets = np.array([0, len(data)], np.int64)
    text = pa.LargeStringArray.from_buffers(1, pa.py_buffer(offsets.tobytes()),
                                            pa.py_buffer(data))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def csv_records(data: bytes) -> Iterator[tuple[int, str, dict[str, Any] | BadRecord]]:
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
