"""The bulk reader of JSON Lines event files: whole files parsed and type-checked in DuckDB.

The file's lines go to DuckDB as one Arrow column (no Python object per line). A line loads here
only when it is plainly good: a JSON object of known, distinct fields, each of its declared kind
(`records.FIELDS`, from the pydantic models) in the plainest form (text as JSON text, numbers as
integers, timestamps as `YYYY-MM-DDTHH:MM[:SS[.ffffff]]` with `Z` or `±HH:MM`), and the rules
across fields hold. Every other line (blank, broken, or merely unusual, such as a number given
as text) goes to the per-record models, which load it or say why not. So the bulk path never
decides that a record is bad, and what it loads is what the models would load: the unit tests
compare the two on fuzzed files.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from metrics.schema import DEPLOYMENT_STATUSES, INCIDENT_CAUSES, SCHEMAS, duckdb_arrow, utc
from pipelines.sources.records import EARLIEST, FIELDS, LATEST, FieldSpec

# Characters Python's str.strip() removes: a required text of only these is "empty".
_NOT_SPACE = (r"[^\s\x{0b}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
              r"\x{202f}\x{205f}\x{3000}]")
_TIMESTAMP = (r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d"
              r"(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)")
# DuckDB's JSON parser allows trailing commas, Python's does not: such lines go to the models.
_TRAILING_COMMA = r",\s*[}\]]"
BATCH_ROWS = 50_000
_SLICE = 1 << 22  # bytes


def line_offsets(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) byte offsets of each line of `data` (the end includes its newline)."""
    if not data:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # By slices of a few MB: one mask of the whole file (as large as the file) costs more in
    # fresh memory than the comparison itself.
    view = np.frombuffer(data, np.uint8)
    ends = np.concatenate([np.flatnonzero(view[at:at + _SLICE] == 10) + (at + 1)
                           for at in range(0, len(view), _SLICE)])
    if data and (ends.size == 0 or ends[-1] != len(data)):
        ends = np.append(ends, len(data))
    ends = ends.astype(np.int64)
    return np.concatenate([[0], ends[:-1]]).astype(np.int64), ends


def split_lines(data: bytes, ends: np.ndarray | None = None) -> pa.Table:
    """`line_no` (from 1) and `line` (its text, newline included) of UTF-8 `data`, zero-copy
    (`ends`: the line ends when already known)."""
    if not data:
        return pa.table({"line_no": pa.array([], pa.int64()),
                         "line": pa.array([], pa.large_utf8())})
    if ends is None:
        _, ends = line_offsets(data)
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets.tobytes()),
                                             pa.py_buffer(data))
    table = pa.table({"line_no": pa.array(np.arange(1, len(ends) + 1, dtype=np.int64)),
                      "line": lines})
    # Several record batches: DuckDB scans each on its own thread.
    return pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS))


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _text_ok(expr: str) -> str:
    return f"(json_type({expr}) = 'VARCHAR' AND NOT contains({expr} ->> '$', chr(0)))"


def _timestamp_ok(expr: str) -> str:
    return (f"(json_type({expr}) = 'VARCHAR' AND regexp_full_match({expr} ->> '$', "
            f"{_sql_text(_TIMESTAMP)}) AND coalesce(TRY_CAST({expr} ->> '$' AS TIMESTAMPTZ) "
            f"BETWEEN TIMESTAMPTZ '{EARLIEST.isoformat()}' AND "
            f"TIMESTAMPTZ '{LATEST.isoformat()}' - INTERVAL 1 MICROSECOND, false))")


_REVIEW_KEYS = "['author', 'submitted_at', 'state']"


def _review_ok(e: str) -> str:
    def at(key: str) -> str:
        return f"({e} -> '$.{key}')"

    optional = [f"({at(k)} IS NULL OR json_type({at(k)}) = 'NULL' OR {_text_ok(at(k))})"
                for k in ("author", "state")]
    return (f"(json_type({e}) = 'OBJECT' AND list_has_all({_REVIEW_KEYS}, json_keys({e})) AND "
            f"len(json_keys({e})) = len(list_distinct(json_keys({e}))) AND "
            f"{_timestamp_ok(at('submitted_at'))} AND " + " AND ".join(optional) + ")")


# A JSON array of strings only (no null, number or object among them).
_STRING = r'"(?:[^"\\]|\\.)*"'
_STRINGS = rf"\[\s*(?:{_STRING}\s*(?:,\s*{_STRING}\s*)*)?\]"


# Reviews as DuckDB writes them back (compact, keys in the usual order): one regular expression
# says they are plain, instead of parsing each review again; any other form takes the long way.
_NULLABLE_STRING = f"(?:{_STRING}|null)"
_REVIEW = (f'\\{{"author":{_NULLABLE_STRING},"submitted_at":"{_TIMESTAMP}",'
           f'"state":{_NULLABLE_STRING}\\}}')
_REVIEWS = rf"\[(?:{_REVIEW}(?:,{_REVIEW})*)?\]"
_IN_RANGE = (f"BETWEEN TIMESTAMPTZ '{EARLIEST.isoformat()}' AND "
             f"TIMESTAMPTZ '{LATEST.isoformat()}' - INTERVAL 1 MICROSECOND")


def _check(name: str, spec: FieldSpec, at: str = "_j") -> str:
    """SQL true when field `name` (its JSON text `<at>.<name>`, a timestamp's text; NULL when
    absent or null) is plainly valid. The JSON type shows in the first character; a whole
    number of at most 18 digits always fits 64 bits. (A timestamp's instant, parsed once, is
    checked by `_rules`.)"""
    f = f"{at}.{name}"
    if spec.kind == "timestamp":
        # Read as text (a number or an object read as text never has this form).
        ok = f"regexp_full_match({f}, {_sql_text(_TIMESTAMP)})"
    elif spec.kind == "text":
        ok = f"left({f}, 1) = '\"'"
        if spec.required:
            # Not blank: plainly so when it starts with a visible ASCII character (cheap), else
            # as Python's str.strip() sees it.
            first = f"substr({f}, 2, 1)"
            ok += (f" AND CASE WHEN {first} BETWEEN '!' AND '~' AND {first} NOT IN ('\"', '\\') "
                   f"THEN true ELSE regexp_matches({f} ->> '$', {_sql_text(_NOT_SPACE)}) END")
    elif spec.kind == "int":
        ok = f"regexp_full_match({f}, '-?[0-9]{{1,18}}')"
    elif spec.kind == "bool":
        ok = f"{f} IN ('true', 'false')"
    elif spec.kind == "list":
        # Plainly a list of texts when, without escapes, objects or inner lists, its quotes
        # are two per item (numbers, true, false and null have none); else the long way.
        quotes = f"strlen({f}) - strlen(replace({f}, '\"', ''))"
        ok = (f"CASE WHEN NOT contains({f}, '\\') AND NOT contains({f}, '{{') AND "
              f"strlen({f}) - strlen(replace({f}, '[', '')) = 1 AND "
              f"{quotes} = 2 * len(TRY_CAST({f} AS VARCHAR[])) THEN true "
              f"ELSE regexp_full_match({f}, {_sql_text(_STRINGS)}) END")
    else:  # reviews: their instants are checked by `_rules`
        ok = (f"CASE WHEN regexp_full_match({f}, {_sql_text(_REVIEWS)}) THEN true ELSE "
              f"json_type({f}) = 'ARRAY' AND coalesce(list_bool_and(list_transform("
              f"json_extract({f}, '$[*]'), lambda e: {_review_ok('e')})), true) END")
    return f"({f} IS NOT NULL AND {ok})" if spec.required else f"({f} IS NULL OR ({ok}))"


def _instants(fields: dict[str, FieldSpec]) -> str:
    """SQL true when every timestamp given (parsed once, in `checked`) is a real instant in range:
    a plain-looking text such as `2026-02-30T10:00:00Z` parses to NULL."""
    out = []
    for name, spec in fields.items():
        if spec.kind == "timestamp":
            out.append(f"coalesce({name} {_IN_RANGE}, false)" if spec.required else
                       f"(NOT _has_{name} OR coalesce({name} {_IN_RANGE}, false))")
        elif spec.kind == "reviews":
            out.append(f"coalesce(list_bool_and(list_transform({name}, lambda r: "
                       f"coalesce(r.submitted_at {_IN_RANGE}, false))), true)")
    return " AND ".join(out) or "true"


def _value(name: str, spec: FieldSpec, at: str = "_j") -> str:
    f = f"{at}.{name}"
    return {
        "text": f"{f} ->> '$'",
        "int": f"TRY_CAST({f} AS BIGINT)",
        "bool": f"{f} = 'true'",
        "timestamp": f"TRY_CAST({f} AS TIMESTAMPTZ)",
        "list": f"TRY_CAST({f} AS VARCHAR[])",
        # Checked plain (texts or nulls, a timestamp as text): typed in one step.
        "reviews": (f"json_transform({f}, '[{{\"author\": \"VARCHAR\", "
                    f"\"submitted_at\": \"TIMESTAMPTZ\", \"state\": \"VARCHAR\"}}]')"),
    }[spec.kind]


def _ascii_in(expr: str, allowed: tuple[str, ...]) -> str:
    return (f"(regexp_full_match({expr}, '[ -~]*') AND lower(trim({expr})) IN "
            f"({', '.join(_sql_text(a) for a in allowed)}))")


def _rules(entity: str) -> tuple[str, dict[str, str]]:
    """Rules across fields (as `records`) and the normalised values they imply."""
    if entity == "deployments":
        return (f"{_ascii_in('status', DEPLOYMENT_STATUSES)} AND (started_at IS NULL "
                "OR started_at <= finished_at)", {"status": "lower(trim(status))"})
    if entity == "incidents":
        return (f"(cause IS NULL OR {_ascii_in('cause', INCIDENT_CAUSES)}) AND (resolved_at IS "
                "NULL OR resolved_at >= opened_at)",
                {"cause": "coalesce(lower(trim(cause)), 'unknown')"})
    if entity == "sli_measurements":
        return ("good >= 0 AND total >= 0 AND good <= total AND window_end >= window_start "
                "AND ($known IS NULL OR list_contains($known, slo))", {})
    return "true", {}


def _null_member(name: str, spec: FieldSpec) -> str:
    """The length `"<name>":null,` adds to a compact line that holds it (see `bulk_query`)."""
    if spec.required or name in ("author", "submitted_at", "state"):
        return "0"
    return (f"CASE WHEN contains(line, '\"{name}\":null') AND NOT contains(line, '\\') "
            f"THEN {len(name) + 8} ELSE 0 END")


def bulk_query(entity: str, compact: bool = True) -> str:
    """The query over `_lines` giving the canonical values of the plainly good lines.

    Each line is parsed twice (its keys; its fields as JSON text); the checks then look at each
    field's small JSON text, and the values are taken from it in the same step. That step is
    materialised: as a filter, DuckDB would push the checks into the parsing step and evaluate
    them twice.
    """
    fields = FIELDS[entity]
    # Each field as its JSON text, to check its kind; a timestamp as the text it holds.
    structure = "{" + ", ".join(
        f'"{n}": "{"VARCHAR" if s.kind == "timestamp" else "JSON"}"' for n, s in fields.items()
    ) + "}"
    known = "[" + ", ".join(_sql_text(n) for n in fields) + "]"
    checks = " AND ".join(_check(n, s) for n, s in fields.items())
    # The keys are known and distinct when the line is exactly as long as its known fields
    # written compactly, as DuckDB writes them back (cheap: a key more, a key twice, a field
    # given as null, a space add length; and no field that passes the checks below is written
    # back longer than it was read). A field given as null counts when `"<name>":null` is in a
    # line without backslashes (so every `"` delimits a text: it is a key, and nested in a
    # value only in one no check lets pass, or in a member that is longer still) and the name
    # is not one of a review's. Else the keys are read (a second parse): fine when there are as
    # many as fields found non-null, or when they are those of the file's first line (`$keys`:
    # known and distinct, or empty); else (an unknown or a repeated key) the exact, costly check.
    # (Lines that are not compact, such as Python's default `{"a": 1, "b": 2}`, are all read
    # twice: `compact=False` then reads the keys of every line at once, which is cheaper.)
    found = " + ".join(f"(_j.{n} IS NOT NULL)::INTEGER" for n in fields)
    keys = "TRY(json_keys(line))" if compact else "_keys"
    keys_ok = (f"WHEN len({keys}) = {found} OR {keys} = CAST($keys AS VARCHAR[]) "
               f"THEN true ELSE len({keys}) = len(list_intersect({keys}, {known})) END")
    if compact:
        length = " + ".join(
            f"coalesce(strlen(_j.{n}) + {len(n) + 4 + 2 * (s.kind == 'timestamp')}, "
            f"{_null_member(n, s)})" for n, s in fields.items())
        # A line of exactly that length has no trailing comma either (a comma adds length):
        # only the other lines need the regular expression, which reads the whole line.
        keys_ok = (f"CASE WHEN strlen(line) - ends_with(line, chr(10))::INTEGER = 1 + {length} "
                   f"THEN true WHEN regexp_matches(line, {_sql_text(_TRAILING_COMMA)}) "
                   f"THEN false {keys_ok}")
    else:
        keys_ok = f"CASE {keys_ok}"
    rules, normal = _rules(entity)
    rules = f"{rules} AND {_instants(fields)}"
    values = ", ".join(f"{_value(n, s)} AS {n}" for n, s in fields.items())
    values += "".join(f", _j.{n} IS NOT NULL AS _has_{n}" for n, s in fields.items()
                      if s.kind == "timestamp" and not s.required)
    final = ", ".join(normal.get(n, n) + f" AS {n}" for n in fields)
    trailing = "" if compact else (
        f"\n      AND NOT regexp_matches(line, {_sql_text(_TRAILING_COMMA)})")
    return f"""
WITH parsed AS (
    SELECT line_no, line, {"" if compact else "TRY(json_keys(line)) AS _keys, "}
           TRY(json_transform(line, {_sql_text(structure)})) AS _j
    FROM _lines
    WHERE starts_with(line, '{{'){trailing}
      AND NOT contains(line, '\\u0000')
), checked AS MATERIALIZED (
    SELECT line_no, ({keys_ok} AND {checks}) AS _ok, {values}
    FROM parsed
)
SELECT line_no, {final}
FROM checked WHERE _ok AND {rules}
"""  # noqa: S608 - every name comes from the record models


# How `canonical_query` reads each kind of field: a text, a timestamp as its text.
_TYPED = {"text": "VARCHAR", "timestamp": "VARCHAR", "int": "BIGINT", "bool": "BOOLEAN",
          "list": "VARCHAR[]", "reviews": "JSON"}


def _written(name: str, spec: FieldSpec, first: bool) -> str:
    """Arguments of `concat` giving member `name` of a line as `canonical_query` expects it
    written back: compact, the values read (`_v.<name>`) between quotes, null as `null`."""
    v = f"_v.{name}"
    key = _sql_text(("{" if first else ",") + f'"{name}":')
    if spec.kind in ("text", "timestamp"):
        return (f"{key}, CASE WHEN {v} IS NULL THEN 'null' ELSE '\"' END, {v}, "
                f"CASE WHEN {v} IS NOT NULL THEN '\"' END")
    if spec.kind == "list":
        return (f"{key}, CASE WHEN {v} IS NULL THEN 'null' WHEN len({v}) = 0 THEN '[]' "
                f"ELSE '[\"' END, array_to_string({v}, '\",\"'), "
                f"CASE WHEN len({v}) > 0 THEN '\"]' END")
    if spec.kind == "int":
        return f"{key}, coalesce(CAST({v} AS VARCHAR), 'null')"
    if spec.kind == "bool":
        return f"{key}, CASE WHEN {v} THEN 'true' WHEN NOT {v} THEN 'false' ELSE 'null' END"
    return f"{key}, coalesce(CAST({v} AS VARCHAR), 'null')"  # reviews: their JSON text


def canonical_query(entity: str, keys: list[str], newline: str = "\n") -> str:
    """The query over `_lines` giving the canonical values of the lines that are plainly good
    and written exactly as a compact writer writes them, with the members `keys` (known and
    distinct: the file's first line) in that order, each line ending in `newline` (`\\r\\n` in a
    file written so).

    Each line is parsed once, straight into typed values (a text given as a number is read as
    text, so that alone proves nothing); the line is then written back from those values as
    its text must be, and compared with itself. In a line without a backslash no text holds an
    escape, a quote or a control character (DuckDB refuses those raw, as Python does), so the
    line equals that writing only when every member is there once, in order, of its declared
    kind: text between quotes, a number as its digits, a list of texts, `null`. The checks of
    `bulk_query` on values (a required text not blank, a timestamp plain, a number of at most
    18 digits, reviews plain) and the rules then hold exactly as there. Any other line (with a
    backslash, a space, a key more or fewer, a number given as text, the last line without
    its newline) is left to `bulk_query`.
    """
    fields = FIELDS[entity]
    structure = "{" + ", ".join(f'"{n}": "{_TYPED[s.kind]}"' for n, s in fields.items()) + "}"
    written = ", ".join(_written(n, fields[n], i == 0) for i, n in enumerate(keys))
    checks = []
    for name, spec in fields.items():
        v = f"_v.{name}"
        ok = None
        if spec.kind == "text" and spec.required:
            ok = (f"CASE WHEN left({v}, 1) BETWEEN '!' AND '~' THEN true "
                  f"ELSE regexp_matches({v}, {_sql_text(_NOT_SPACE)}) END")
        elif spec.kind == "timestamp":
            ok = f"regexp_full_match({v}, {_sql_text(_TIMESTAMP)})"
        elif spec.kind == "int":
            ok = f"{v} BETWEEN -999999999999999999 AND 999999999999999999"
        elif spec.kind == "reviews":  # the JSON text of the line's reviews: checked as there
            checks.append(_check(name, spec, "_v"))
            continue
        if spec.required:
            checks.append(f"{v} IS NOT NULL" + (f" AND {ok}" if ok else ""))
        elif ok:
            checks.append(f"({v} IS NULL OR {ok})")
    values = []
    for name, spec in fields.items():
        v = f"_v.{name}"
        if spec.kind == "timestamp":
            values.append(f"TRY_CAST({v} AS TIMESTAMPTZ) AS {name}")
            if not spec.required:
                values.append(f"{v} IS NOT NULL AS _has_{name}")
        elif spec.kind == "reviews":
            values.append(f"{_value(name, spec, '_v')} AS {name}")
        else:
            values.append(f"{v} AS {name}")
    rules, normal = _rules(entity)
    final = ", ".join(normal.get(n, n) + f" AS {n}" for n in fields)
    ending = ", ".join(f"chr({ord(c)})" for c in newline)
    return f"""
WITH parsed AS (
    SELECT line_no, line, TRY(json_transform(line, {_sql_text(structure)})) AS _v
    FROM _lines
    WHERE NOT contains(line, '\\')
), checked AS MATERIALIZED (
    SELECT line_no, (concat({written}, '}}', {ending}) = line AND {" AND ".join(checks)}) AS _ok,
           {", ".join(values)}
    FROM parsed
)
SELECT line_no, {final}
FROM checked WHERE _ok AND {rules} AND {_instants(fields)}
"""  # noqa: S608 - every name comes from the record models


def _first_line(lines: pa.Table, entity: str) -> tuple[list[str], bool]:
    """The keys of the first line, in order, when it is an object of known, distinct fields
    (else none), and whether it is written compactly, with no space between values. Lines from
    one writer usually share both: `bulk_query` then checks keys cheaply."""
    if not lines.num_rows:
        return [], True
    text = lines.column("line")[0].as_py()
    try:
        pairs = json.loads(text, object_pairs_hook=lambda p: p) if text.lstrip().startswith(
            "{") else None
    except (ValueError, RecursionError):
        return [], True
    if not isinstance(pairs, list):
        return [], True
    keys = [k for k, _ in pairs]
    compact = not text.startswith(("{ ", '{"' + keys[0] + '": ') if keys else "{ ")
    fields = FIELDS[entity]
    known = len(set(keys)) == len(keys) and all(k in fields for k in keys)
    return (keys if known else []), compact


def cells_query(entity: str, columns: list[str]) -> str | None:
    """The query over `_cells` (a CSV file's cells already typed: numbers, flags and lists as
    the models read them, text and timestamps as text, empty cells null; `_line` their line)
    giving the canonical values of the plainly good rows, with the checks of `bulk_query` on
    text: a required text not blank, a timestamp in the plain form and range, the rules. None
    when `columns` lack a required field (no row can load in bulk)."""
    fields = FIELDS[entity]
    if any(s.required and n not in columns for n, s in fields.items()):
        return None
    checks, values = ["true"], []
    for name, spec in fields.items():
        if name not in columns:
            values.append(f"NULL AS {name}")
            if spec.kind == "timestamp":
                values.append(f"false AS _has_{name}")
            continue
        ok = None
        if spec.kind == "text" and spec.required:
            first = f"left({name}, 1)"
            ok = (f"CASE WHEN {first} BETWEEN '!' AND '~' THEN true "
                  f"ELSE regexp_matches({name}, {_sql_text(_NOT_SPACE)}) END")
        elif spec.kind == "timestamp":
            ok = f"regexp_full_match({name}, {_sql_text(_TIMESTAMP)})"
        if spec.required:
            checks.append(f"{name} IS NOT NULL" + (f" AND {ok}" if ok else ""))
        elif ok:
            checks.append(f"({name} IS NULL OR {ok})")
        if spec.kind == "timestamp":
            values.append(f"TRY_CAST({name} AS TIMESTAMPTZ) AS {name}")
            if not spec.required:
                values.append(f"{name} IS NOT NULL AS _has_{name}")
        else:
            values.append(name)
    rules, normal = _rules(entity)
    final = ", ".join(normal.get(n, n) + f" AS {n}" for n in fields)
    return f"""
WITH checked AS MATERIALIZED (
    SELECT _line AS line_no, {", ".join(values)}
    FROM _cells
    WHERE {" AND ".join(checks)}
)
SELECT line_no, {final}
FROM checked WHERE {rules} AND {_instants(fields)}
"""  # noqa: S608 - every name comes from the record models


_SAMPLE = 32  # lines looked at by `_mostly_alike`


def _mostly_alike(lines: pa.Table, keys: list[str]) -> bool:
    """Whether most of a sample of the lines, spread over the file, have the members `keys` in
    that order: else (a writer that leaves out null members, say) the one-parse step would
    load few lines and the rest would be parsed twice."""
    count = lines.num_rows
    picks = sorted({i * count // _SAMPLE for i in range(_SAMPLE)} if count > _SAMPLE
                   else range(count))
    alike = 0
    column = lines.column("line")
    for text in (column[i].as_py() for i in picks):
        if not text.startswith("{"):  # an object read as its list of (key, value) pairs
            continue
        try:
            pairs = json.loads(text, object_pairs_hook=lambda p: p)
        except (ValueError, RecursionError):
            continue
        alike += [k for k, _ in pairs] == keys
    return 2 * alike >= len(picks)


def read_bulk(lines: pa.Table, entity: str, known_slos: set[str] | None
              ) -> tuple[pl.DataFrame, np.ndarray]:
    """(rows loaded in bulk with their `line_no`, line numbers left for the models).

    Lines written exactly as the first one is (`canonical_query`) load in one cheap step when
    most lines look alike (`_mostly_alike`); only the others go through `bulk_query`, which
    loads the same rows from them as it would have from the whole file (it looks at each line
    on its own)."""
    keys, compact = _first_line(lines, entity)
    all_lines = lines.column("line_no").to_numpy()
    good = None
    if keys and compact and _mostly_alike(lines, keys):
        newline = "\r\n" if lines.column("line")[0].as_py().endswith("\r\n") else "\n"
        good = _run(canonical_query(entity, keys, newline), "_lines", lines, entity,
                    known_slos, {})
        if good.height == len(all_lines):  # the usual case: every line
            return good, np.zeros(0, np.int64)
        if good.height:
            other = ~np.isin(all_lines, good["line_no"].to_numpy(), assume_unique=True)
            lines = lines.filter(pa.array(other))
    more = _run(bulk_query(entity, compact), "_lines", lines, entity, known_slos, {"keys": keys})
    if good is not None and good.height:
        more = pl.concat([good, more]).sort("line_no") if more.height else good
    rest = np.setdiff1d(all_lines, more["line_no"].to_numpy(), assume_unique=True)
    return more, rest


def read_cells(cells: pl.DataFrame, entity: str, known_slos: set[str] | None) -> pl.DataFrame:
    """The rows of typed CSV cells (`cells_query`) loaded in bulk, with their `line_no`."""
    query = cells_query(entity, [c for c in cells.columns if c != "_line"])
    if query is None or not cells.height:
        return pl.DataFrame(schema={"line_no": pl.Int64})
    return _run(query, "_cells", duckdb_arrow(cells), entity, known_slos, {})


def _run(query: str, name: str, table: pa.Table, entity: str, known_slos: set[str] | None,
         params: dict) -> pl.DataFrame:
    """The rows `query` gives over `table` (registered as `name`), typed canonically and in
    line order."""
    conn = duckdb.connect(config={"autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False})
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.register(name, table)
        if entity == "sli_measurements":
            params = {**params, "known": sorted(known_slos) if known_slos is not None else None}
        good = conn.sql(query, params=params).pl()
    finally:
        conn.close()
    schema = {n: t for n, t in SCHEMAS[entity].items() if n != "source"}
    good = utc(good).with_columns([pl.col(n).cast(t) for n, t in schema.items()])
    if not good["line_no"].is_sorted():  # DuckDB usually keeps the input's order
        good = good.sort("line_no")
    return good
