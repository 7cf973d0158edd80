"""Bad input, fuzzed: event files (JSON Lines and CSV) that hypothesis makes as wrong as it can.

Records start valid and are then broken: wrong types, missing and extra fields, offset-less and
impossible timestamps, NaN and huge numbers, unicode and control characters, 1 MB strings,
duplicate keys, truncated lines; whole files may be empty or binary. Whatever comes in:

- reading never raises;
- every record read is either loaded or quarantined (read = loaded + quarantined, per entity),
  and for JSON Lines every non-blank line is a record read;
- every quarantined record names its file and line, and a reason a person can read (short,
  printable, no raw control characters);
- what loads keeps the canonical guarantees (required fields, UTC timestamps in range, text
  storable as UTF-8);
- landed and built into the warehouse, the tables hold exactly the loaded records (one per key)
  and every quarantined one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metrics.schema import DEPLOYMENT_STATUSES, FILE_NAMES, KEYS
from pipelines.build import build_canonical, compute_metrics
from pipelines.config import DoraConfig
from pipelines.sources.files import RAW_LIMIT, FilesResult, land_folder, read_folder
from pipelines.sources.records import EARLIEST, FIELDS, LATEST
from pipelines.warehouse import connect

# DORA_FUZZ_EXAMPLES=2000 fuzzes harder (the default keeps the suite fast).
EXAMPLES = int(os.environ.get("DORA_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])
MEGABYTE = "é" * 500_000  # 1 MB of UTF-8 in one value
FUZZ_SOURCE = {"kind": "files", "path": "events", "name": "fuzz"}

# ---- values ------------------------------------------------------------------------------------

NASTY_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\x1b[31mred", "\u202eevil", "\r\n",
    "'; DROP TABLE deployments; --", "<script>alert(1)</script>", "../../etc/passwd",
    "NaN", "null", "1e999", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🚀", "\ufeff", "\t\v\f",
])
TEXT = st.one_of(st.text(max_size=20), NASTY_TEXT,
                 st.text(st.characters(codec="utf-8", categories=["Cc", "Zs", "So"]), max_size=5))
GOOD_TIMES = st.datetimes(min_value=EARLIEST.replace(tzinfo=None),
                          max_value=LATEST.replace(tzinfo=None, year=2099),
                          timezones=st.timezones()).map(lambda t: t.isoformat())
BAD_TIMES = st.sampled_from([
    "2026-01-05T10:00:00", "2026-01-05", "2026-02-30T10:00:00Z", "2026-01-05T25:00:00Z",
    "2026-01-05T10:00:00+25:00", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00",
    "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "yesterday", "1767600000", " ",
    "2026-01-05T10:00:00.123456789123456789Z", "+002026-01-05T10:00:00Z",
])
NUMBERS = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([2**63, -(2**63) - 1, 10**40, float("nan"), 1e308, -0.0]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, GOOD_TIMES, BAD_TIMES)
ANY_VALUE = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                      st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
                      st.just(MEGABYTE))


def _good_value(kind: str, name: str) -> st.SearchStrategy[Any]:
    """Values a field of this kind accepts."""
    if kind == "timestamp":
        return GOOD_TIMES
    if kind == "int":
        return st.integers(0, 10**6)
    if kind == "bool":
        return st.booleans()
    if name == "parents":
        return st.lists(st.sampled_from(["c0", "c1", "c2", "c3"]), max_size=2)
    if kind == "list":
        return st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00;"),
                                min_size=1, max_size=8), max_size=3)
    if kind == "reviews":
        return st.lists(st.fixed_dictionaries({"author": st.sampled_from(["bob", "carol"]),
                                               "submitted_at": GOOD_TIMES,
                                               "state": st.just("APPROVED")}), max_size=2)
    if name == "status":
        return st.sampled_from(DEPLOYMENT_STATUSES)
    if name == "cause":
        return st.sampled_from(["change", "infrastructure", "external", "unknown"])
    if name == "slo":
        return st.just("api-availability")
    if name in ("service", "repo"):
        return st.sampled_from(["api", "acme/api"]) | TEXT.filter(str.strip)
    if name in ("sha", "revision", "merge_commit_sha", "commit_sha"):
        return st.sampled_from(["c0", "c1", "c2", "c3"])
    if name == "environment":
        return st.sampled_from(["production", "Prod", "staging"])
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                   max_size=12).filter(str.strip)


@st.composite
def records(draw: st.DrawFn, entity: str) -> dict[str, Any]:
    """A record of `entity`: valid, then (often) broken in one or more ways."""
    specs = FIELDS[entity]
    record = {name: draw(_good_value(spec.kind, name)) for name, spec in specs.items()
              if spec.required or draw(st.booleans())}
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["drop", "extra", "wrong", "wrong", "time"]))
        name = draw(st.sampled_from(sorted(specs)))
        if how == "drop":
            record.pop(name, None)
        elif how == "extra":
            record[draw(st.one_of(TEXT, st.just("x" * 300)))] = draw(SCALARS)
        elif how == "time":
            record[name] = draw(BAD_TIMES)
        else:
            record[name] = draw(ANY_VALUE)
    return record


# ---- files -------------------------------------------------------------------------------------


@st.composite
def jsonl_file(draw: st.DrawFn, entity: str) -> bytes:
    """A JSON Lines file: records, some lines corrupted, perhaps a whole-file disaster."""
    whole = draw(st.sampled_from(["lines"] * 6 + ["empty", "binary", "blank", "utf16"]))
    if whole == "empty":
        return b""
    if whole == "binary":
        return draw(st.binary(min_size=1, max_size=300))
    if whole == "blank":
        return b"\n  \n\t\n"
    lines = []
    # Written as Python writes by default (spaces after `:` and `,`) or compactly.
    separators = draw(st.sampled_from([None, (",", ":")]))
    for record in draw(st.lists(records(entity), min_size=1, max_size=6)):
        text = json.dumps(record, ensure_ascii=draw(st.booleans()), allow_nan=True,
                          separators=separators)
        how = draw(st.sampled_from(["keep"] * 6 + ["truncate", "duplicate", "garbage",
                                                   "deep", "long_number", "crlf", "array"]))
        if how == "truncate":
            text = text[: draw(st.integers(0, max(len(text) - 1, 0)))]
        elif how == "duplicate" and len(record) > 0:
            key = next(iter(record))
            text = "{" + json.dumps(key) + ":" + json.dumps(record[key], allow_nan=True) + "," \
                + text[1:]
        elif how == "garbage":
            lines.append(draw(st.binary(min_size=1, max_size=40)).replace(b"\n", b"?"))
            continue
        elif how == "deep":
            text = "[" * 50_000 + "]" * 50_000
        elif how == "long_number":
            text = '{"id": ' + "7" * 5000 + "}"
        elif how == "crlf":
            text += "\r"
        elif how == "array":
            text = json.dumps([record], allow_nan=True)
        lines.append(text.encode("utf-8", "surrogatepass"))
    data = b"\n".join(lines) + draw(st.sampled_from([b"\n", b""]))
    return data.decode("utf-8", "replace").encode("utf-16") if whole == "utf16" else data


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


@st.composite
def csv_file(draw: st.DrawFn, entity: str) -> bytes:
    """A CSV file: a header (maybe with an unknown or doubled column), rows of cells (maybe too
    few or too many, with NUL or broken quotes), perhaps a whole-file disaster."""
    whole = draw(st.sampled_from(["rows"] * 6 + ["empty", "binary", "header_only"]))
    if whole == "empty":
        return b""
    if whole == "binary":
        return draw(st.binary(min_size=1, max_size=300))
    header = [n for n in FIELDS[entity] if n != "reviews"]
    header = draw(st.permutations(header))
    if draw(st.booleans()):  # often only some columns, as real files have
        header = header[:draw(st.integers(1, len(header)))]
    twist = draw(st.sampled_from(["none"] * 4 + ["extra", "double", "blank"]))
    if twist == "extra":
        header = [*header, draw(TEXT)]
    elif twist == "double":
        header = [*header, header[0]]
    elif twist == "blank":
        header = [*header, ""]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    if whole == "rows":
        for record in draw(st.lists(records(entity), min_size=1, max_size=6)):
            cells = [_cell(record.get(h)) for h in header]
            how = draw(st.sampled_from(["keep"] * 5 + ["short", "long", "quote", "nul"]))
            if how == "short":
                cells = cells[:-1]
            elif how == "long":
                cells = [*cells, "surplus"]
            elif how == "nul":
                cells[0] = cells[0] + "\x00"
            if how == "quote":
                out.write('"' + ",".join(cells) + "\n")
            else:
                writer.writerow(cells)
    return out.getvalue().encode("utf-8", "surrogatepass")


ENTITIES = sorted(FILE_NAMES)


@st.composite
def event_folders(draw: st.DrawFn) -> dict[str, bytes]:
    """File name → bytes for a folder of event files."""
    files: dict[str, bytes] = {}
    for entity in draw(st.lists(st.sampled_from(ENTITIES), min_size=1, max_size=3,
                                unique=True)):
        stem = FILE_NAMES[entity]
        formats = draw(st.sampled_from([["jsonl"], ["csv"], ["jsonl", "csv"]]))
        if "jsonl" in formats:
            files[f"{stem}.jsonl"] = draw(jsonl_file(entity))
        if "csv" in formats:
            files[f"{stem}.csv"] = draw(csv_file(entity))
    return files


# ---- the properties ----------------------------------------------------------------------------


def _readable(text: str, limit: int) -> bool:
    """Short, and nothing a terminal or a page would act on or choke on."""
    return 0 < len(text) <= limit and not any(
        unicodedata.category(c) in ("Cc", "Cs") for c in text)


def _records_in_jsonl(data: bytes) -> int:
    """Independently: a JSON Lines record is a non-blank line (undecodable lines count)."""
    count = 0
    for raw in data.removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        try:
            count += bool(raw.decode("utf-8").strip())
        except UnicodeDecodeError:
            count += 1
    return count


def _check_loaded(entity: str, frame: pl.DataFrame) -> None:
    for row in frame.iter_rows(named=True):
        for name, spec in FIELDS[entity].items():
            value = row[name]
            if spec.required:
                assert value is not None, (entity, name, row)
            if spec.kind == "timestamp" and value is not None:
                assert value.tzinfo is not None and EARLIEST <= value < LATEST, (name, value)
            if isinstance(value, str):
                assert "\x00" not in value
                value.encode("utf-8")  # storable
        if entity == "deployments":
            assert row["status"] in DEPLOYMENT_STATUSES


def _write(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def _read_and_check(folder: Path, files: dict[str, bytes]) -> FilesResult:
    result = read_folder(folder, "fuzz", known_slos={"api-availability"})
    tally, quarantine = result.tally, result.quarantine
    assert tally.reconciles
    for entity in FILE_NAMES:
        loaded = result.frames.get(entity, pl.DataFrame()).height
        assert tally.loaded[entity] == loaded
        assert tally.quarantined[entity] == quarantine.filter(pl.col("entity") == entity).height
        assert tally.read[entity] == tally.loaded[entity] + tally.quarantined[entity]
        jsonl, csv_name = f"{FILE_NAMES[entity]}.jsonl", f"{FILE_NAMES[entity]}.csv"
        if jsonl in files and csv_name not in files:
            assert tally.read[entity] == _records_in_jsonl(files[jsonl]), (entity, files)
        if entity in result.frames:
            _check_loaded(entity, result.frames[entity])
    for row in quarantine.iter_rows(named=True):
        assert row["file"] in files and row["line"] is not None and row["line"] >= 1, row
        assert _readable(row["reason"], 400), row["reason"]
        assert row["field"] is None or _readable(row["field"], 200), row["field"]
        assert row["raw"] is None or len(row["raw"]) <= RAW_LIMIT
        if row["file"].endswith(".jsonl"):
            assert row["line"] <= files[row["file"]].count(b"\n") + 1
    return result


@FUZZ
@given(event_folders())
@example({"deployments.jsonl": b'{"id": "d", "id": "e"}\n{"id": 1' + b"0" * 5000 + b"}\n"
          + b'{"id": "\\ud800", "\\ud800": 1}\n'})
@example({"sli.jsonl": json.dumps({"slo": MEGABYTE + "\x1b", "window_start": "2026-01-05T00:00Z",
                                    "window_end": "2026-01-06T00:00Z", "good": 1,
                                    "total": 2}).encode()})
@example({"sli.csv": b"slo,slo,window_start\nx,y,2026-01-05T00:00:00Z\n",
          "commits.csv": b"repo,sha,authored_at,committed_at,message\n"
          + b"r,s,2026-01-05T00:00:00Z,2026-01-05T00:00:00Z," + MEGABYTE.encode() + b"\n"})
def test_any_event_files_are_read_loaded_or_quarantined(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "events"
        _write(folder, files)
        result = _read_and_check(folder, files)
        # Landed and built, the warehouse holds each loaded record once per key, and every
        # quarantined one.
        config = DoraConfig(warehouse=Path(scratch) / "w.duckdb", config_dir=Path(scratch),
                            sources=[FUZZ_SOURCE])
        land_folder(config.landing_path, "fuzz", result)
        conn = connect(config.warehouse_path)
        try:
            build_canonical(conn, config)
            counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
                      for t in [*FILE_NAMES, "quarantine"]}
        finally:
            conn.close()
        assert counts["quarantine"] == result.quarantine.height
        for entity in FILE_NAMES:
            frame = result.frames.get(entity)
            keys = 0 if frame is None else frame.unique(subset=list(KEYS[entity])).height
            assert counts[entity] == keys, entity


@settings(max_examples=max(3, EXAMPLES // 10), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.fixed_dictionaries({entity: st.lists(records(entity), max_size=8)
                              for entity in ENTITIES}))
def test_every_metric_is_computed_from_whatever_loaded(batch: dict[str, list]) -> None:
    """The whole build, metrics included, on fuzzed records: whatever passed the quarantine
    (extreme but valid values: unicode names, edge timestamps, huge counts) never crashes it."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "events"
        folder.mkdir()
        for entity, rows in batch.items():
            (folder / f"{FILE_NAMES[entity]}.jsonl").write_text(
                "".join(json.dumps(r, allow_nan=True) + "\n" for r in rows), encoding="utf-8")
        config = DoraConfig(warehouse=Path(scratch) / "w.duckdb", config_dir=Path(scratch),
                            services=[{"name": "api", "repo": "acme/api"}],
                            teams=[{"name": "payments", "services": ["api"]}],
                            sources=[FUZZ_SOURCE])
        result = read_folder(folder, "fuzz", known_slos=None)
        land_folder(config.landing_path, "fuzz", result)
        conn = connect(config.warehouse_path)
        try:
            build_canonical(conn, config)
        finally:
            conn.close()
        compute_metrics(config)
        with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
            (quarantined,) = conn.execute("SELECT count(*) FROM quarantine").fetchone()
            counted, outcomes, by_team, by_org = conn.execute("""
                SELECT (SELECT count(*) FROM deployments WHERE status = 'success'
                          AND lower(environment) IN ('production', 'prod')),
                       (SELECT count(*) FROM deployment_outcomes),
                       (SELECT coalesce(sum(deployments), 0) FROM team_metrics
                          WHERE grain = 'month'),
                       (SELECT coalesce(sum(deployments), 0) FROM org_metrics
                          WHERE grain = 'week')""").fetchone()
        assert quarantined == sum(result.tally.quarantined.values())
        # Every counted deployment is in the outcomes and counted once, by team and overall.
        assert counted == outcomes == by_team == by_org


@st.composite
def plain_jsonl(draw: st.DrawFn, entity: str) -> bytes:
    """JSON Lines of records that are mostly plainly good (what the bulk path loads), some
    broken: the bulk path and the models must then agree line by line."""
    lines = []
    separators = draw(st.sampled_from([None, (",", ":")]))
    for record in draw(st.lists(records(entity), min_size=1, max_size=8)):
        if draw(st.booleans()):  # keep it valid: only the good values
            specs = FIELDS[entity]
            record = {n: draw(_good_value(s.kind, n)) for n, s in specs.items()
                      if s.required or draw(st.booleans())}
        text = json.dumps(record, ensure_ascii=draw(st.booleans()), allow_nan=True,
                          separators=separators)
        twist = draw(st.sampled_from(["keep"] * 8 + ["trailing_comma", "bom", "blank"]))
        if twist == "trailing_comma" and text.endswith("}") and len(record):
            text = text[:-1] + ",}"
        elif twist == "blank":
            text = "  \t"
        lines.append(text.encode("utf-8", "surrogatepass"))
    data = b"\n".join(lines) + b"\n"
    return b"\xef\xbb\xbf" + data if draw(st.booleans()) else data


@FUZZ
@given(st.sampled_from(ENTITIES).flatmap(lambda e: st.tuples(
           st.just(e), st.sampled_from(["jsonl", "csv"]),
           st.one_of(plain_jsonl(e), jsonl_file(e)), csv_file(e))),
       st.sampled_from([None, "Europe/Berlin"]))
def test_the_bulk_path_loads_what_the_models_load(case: tuple[str, str, bytes, bytes],
                                                  timezone: str | None) -> None:
    """Read in bulk or record by record, a file gives the same rows, quarantine and tally."""
    entity, suffix, jsonl, csv_data = case
    _assert_bulk_reads_as_plain(entity, suffix, jsonl if suffix == "jsonl" else csv_data,
                                timezone)


def _assert_bulk_reads_as_plain(entity: str, suffix: str, data: bytes,
                                timezone: str | None) -> None:
    """The file `data` of `entity` gives the same rows, quarantine and tally read in bulk as
    read record by record."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / f"{FILE_NAMES[entity]}.{suffix}").write_bytes(data)
        known = {"api-availability"}
        bulk = read_folder(folder, "fuzz", timezone, known)
        plain = read_folder(folder, "fuzz", timezone, known, bulk=False)
    assert bulk.tally == plain.tally
    assert bulk.quarantine.to_dicts() == plain.quarantine.to_dicts()
    assert bulk.frames.get(entity, pl.DataFrame()).to_dicts() == plain.frames.get(
        entity, pl.DataFrame()).to_dicts()


def test_a_plainly_good_file_loads_wholly_in_bulk() -> None:
    """Every line of a clean file is loaded by DuckDB, none left for the models."""
    from pipelines.sources.bulk import read_bulk, split_lines

    record = {"id": "d1", "service": "api", "environment": "production", "revision": "abc",
              "started_at": "2026-01-05T09:00:00.5+01:00", "finished_at": "2026-01-05T10:00:00Z",
              "status": "Success", "labels": ["a", "b"], "rollback_of": None}
    data = "".join(json.dumps({**record, "id": f"d{i}"}) + "\n" for i in range(3)).encode()
    loaded, rest = read_bulk(split_lines(data), "deployments", None)
    assert len(rest) == 0 and loaded["line_no"].to_list() == [1, 2, 3]
    row = loaded.row(0, named=True)
    assert row["status"] == "success" and row["labels"] == ["a", "b"]
    assert row["started_at"].isoformat() == "2026-01-05T08:00:00.500000+00:00"


def test_an_empty_file_has_no_records_either_way(tmp_path: Path) -> None:
    (tmp_path / "incidents.jsonl").write_bytes(b"")
    for bulk in (True, False):
        assert read_folder(tmp_path, "e", bulk=bulk).tally.read["incidents"] == 0


def test_a_compact_line_with_a_key_more_or_twice_is_not_plain(tmp_path: Path) -> None:
    """The bulk path recognises a compact line's keys by its length, and a list of texts by its
    quotes (`bulk.bulk_query`): a key it does not know, a key given twice, a space make the line
    longer; an object or a list among a list's items is never taken for texts; the models decide
    (the same as reading without bulk)."""
    good = ('{"id":"d1","service":"api","environment":"production","revision":"abc",'
            '"finished_at":"2026-01-05T10:00:00Z","status":"success"}')
    lines = [
        good,
        good[:-1] + ',"colour":"red"}',  # unknown field: quarantined
        '{"id":"d1",' + good[1:],  # `id` twice: quarantined
        good[:-1] + ',"fix_for":null}',  # a null field: loads
        good.replace('"id":"d1",', '"id": "d1",'),  # a space: loads
        good.replace('"abc"', '"ab\\u0063"'),  # an escape written back shorter: loads
        # `"fix_for":null` counted as a member, but nested in an unknown one: quarantined
        good[:-1] + ',"x":{"fix_for":null}}',
        good[:-1] + ',"fix_for":null,"fix_for":null}',  # twice: quarantined
        # Lists: as many quotes as two per item, yet not all texts: quarantined
        good[:-1] + ',"labels":[1,{"k":"v"}]}',
        good[:-1] + ',"labels":[["a"]]}',
        good[:-1] + ',"labels":["a[b","c{d"]}',  # brackets in texts: loads
    ]
    (tmp_path / "deployments.jsonl").write_text("\n".join(lines) + "\n")
    # A review's `"author":null` is never counted as the record's `author`: here a key of the
    # same length (`"abcdef":null`) would otherwise take its place unnoticed.
    pr = ('{"repo":"r","number":1,"created_at":"2026-01-05T10:00:00Z","abcdef":null,'
          '"reviews":[{"author":null,"submitted_at":"2026-01-05T10:00:00Z","state":"A"}]}')
    (tmp_path / "pull_requests.jsonl").write_text(pr + "\n")
    bulk = read_folder(tmp_path, "t")
    plain = read_folder(tmp_path, "t", bulk=False)
    assert bulk.quarantine.to_dicts() == plain.quarantine.to_dicts()
    for entity in ("deployments", "pull_requests"):
        assert bulk.frames[entity].to_dicts() == plain.frames[entity].to_dicts()
    assert bulk.quarantine["line"].to_list() == [1, 2, 3, 7, 8, 9, 10]
    assert bulk.quarantine["field"].to_list() == ["abcdef", "colour", "id", "x", "fix_for",
                                                  "labels[1]", "labels[0]"]
    assert bulk.frames["deployments"].height == 5
    assert bulk.frames["deployments"]["labels"].to_list()[-1] == ["a[b", "c{d"]


def test_only_lines_written_back_exactly_load_in_one_parse(tmp_path: Path) -> None:
    """`bulk.canonical_query` loads a line only when writing its typed values back gives the
    line itself: a number given as text, a text as a number, a list holding a number or a null,
    a key fewer, more, twice or out of order, a backslash, the last line without its newline
    are left to `bulk_query` and the models, which decide as without bulk."""
    from pipelines.sources.bulk import _run, canonical_query, split_lines

    def line(**change: object) -> str:
        record = {"id": "d1", "service": "api", "environment": "production", "revision": "abc",
                  "started_at": None, "finished_at": "2026-01-05T10:00:00Z",
                  "status": "success", "rollback_of": None, "fix_for": None,
                  "labels": ["a", "b"]}
        return json.dumps(record | change, separators=(",", ":"), ensure_ascii=False)

    lines = [
        line(),  # 1: loads in one parse
        line(id=5),  # 2: a number for a text (the models read it as "5")
        line(labels=["a", 1]),  # 3
        line(labels=["a", None]),  # 4
        line(labels=[]),  # 5: loads in one parse
        line(labels=None, status="Success "),  # 6: loads in one parse, status made plain
        line(revision="é\u2028\x7f"),  # 7: loads in one parse, written raw
        line(id=""),  # 8: blank: quarantined
        line(revision='a"b'),  # 9: an escape
        line()[:-1] + ',"colour":"red"}',  # 10: unknown field
        '{"id":"d1",' + line()[1:],  # 11: `id` twice
        line(finished_at="2026-02-30T10:00:00Z"),  # 12: no such day: quarantined
        line(id=True),  # 13
        line(started_at="2026-01-05T09:00:00Z").replace('"labels":["a","b"],', "")
        .replace("}", ',"labels":["a","b"]}'),  # 14: keys in another order
        line().replace(',"fix_for":null', ""),  # 15: a key fewer
        line(labels=[["a"]]),  # 16
        line(started_at="2026-01-05T09:00:00Z"),  # 17: the last line, no newline
    ]
    data = "\n".join(lines).encode()
    (tmp_path / "deployments.jsonl").write_bytes(data)
    keys = list(json.loads(lines[0]))
    once = _run(canonical_query("deployments", keys), "_lines", split_lines(data),
                "deployments", None, {})
    assert once["line_no"].to_list() == [1, 5, 6, 7]
    assert once["status"].to_list()[2] == "success"
    assert once["revision"].to_list()[3] == "é\u2028\x7f"
    bulk = read_folder(tmp_path, "t")
    plain = read_folder(tmp_path, "t", bulk=False)
    assert bulk.quarantine.to_dicts() == plain.quarantine.to_dicts()
    assert bulk.frames["deployments"].to_dicts() == plain.frames["deployments"].to_dicts()
    assert 2 not in bulk.quarantine["line"].to_list()  # the models read 5 as the text "5"
    assert {8, 12} <= set(bulk.quarantine["line"].to_list())


def test_numbers_and_flags_load_in_one_parse_only_as_written_back(tmp_path: Path) -> None:
    """A number of 19 digits (the models may read it; `bulk_query` leaves it to them), a
    number written `1.0` or `"7"`, a flag written `1`: not loaded in one parse."""
    from pipelines.sources.bulk import _run, canonical_query, split_lines

    def line(**change: object) -> str:
        record = {"repo": "r", "number": 1, "author_is_bot": False,
                  "created_at": "2026-01-05T10:00:00Z", "labels": ["x"]}
        return json.dumps(record | change, separators=(",", ":"))

    lines = [line(), line(number=1234567890123456789), line(number=1.0), line(number="7"),
             line(author_is_bot=1), line(number=-12, author_is_bot=None),
             line(number=999999999999999999)]
    data = ("\n".join(lines) + "\n").encode()
    (tmp_path / "pull_requests.jsonl").write_bytes(data)
    once = _run(canonical_query("pull_requests", list(json.loads(lines[0]))), "_lines",
                split_lines(data), "pull_requests", None, {})
    assert once["line_no"].to_list() == [1, 6, 7]
    assert once["number"].to_list() == [1, -12, 999999999999999999]
    bulk = read_folder(tmp_path, "t")
    plain = read_folder(tmp_path, "t", bulk=False)
    assert bulk.quarantine.to_dicts() == plain.quarantine.to_dicts()
    assert bulk.frames["pull_requests"].to_dicts() == plain.frames["pull_requests"].to_dicts()


def test_lines_ending_in_crlf_load_in_one_parse_when_the_first_does(tmp_path: Path) -> None:
    """A file written with `\\r\\n` is read in one parse too; a line ending otherwise is not
    (it goes the long way and loads the same)."""
    from pipelines.sources.bulk import _run, canonical_query, split_lines

    record = {"slo": "api-availability", "window_start": "2026-01-05T00:00:00Z",
              "window_end": "2026-01-06T00:00:00Z", "good": 99, "total": 100}
    text = json.dumps(record, separators=(",", ":"))
    data = (text + "\r\n" + text + "\n" + text + "\r\n").encode()
    (tmp_path / "sli.jsonl").write_bytes(data)
    once = _run(canonical_query("sli_measurements", list(record), "\r\n"), "_lines",
                split_lines(data), "sli_measurements", None, {})
    assert once["line_no"].to_list() == [1, 3]
    bulk = read_folder(tmp_path, "t", known_slos={"api-availability"})
    plain = read_folder(tmp_path, "t", known_slos={"api-availability"}, bulk=False)
    assert bulk.frames["sli_measurements"].height == 3
    assert bulk.frames["sli_measurements"].to_dicts() == plain.frames[
        "sli_measurements"].to_dicts()


@st.composite
def same_keys_jsonl(draw: st.DrawFn, entity: str) -> bytes:
    """JSON Lines written compactly with every field, in one order: what the one-parse bulk
    step reads (`bulk.canonical_query`), with values often of the wrong kind or nasty."""
    specs = FIELDS[entity]
    order = draw(st.permutations(sorted(specs)))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    ascii_only = draw(st.booleans())
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        record = {n: draw(_good_value(specs[n].kind, n)) if specs[n].required or draw(
            st.booleans()) else None for n in order}
        for _ in range(draw(st.integers(0, 2))):
            record[draw(st.sampled_from(order))] = draw(ANY_VALUE)
        lines.append(json.dumps(record, separators=(",", ":"), ensure_ascii=ascii_only,
                                allow_nan=True))
    return (newline.join(lines) + newline).encode("utf-8", "surrogatepass")


@FUZZ
@given(st.sampled_from(ENTITIES).flatmap(lambda e: st.tuples(st.just(e), same_keys_jsonl(e))),
       st.sampled_from([None, "Europe/Berlin"]))
def test_lines_read_in_one_parse_load_as_the_models_load(case: tuple[str, bytes],
                                                         timezone: str | None) -> None:
    """Read in bulk (most lines in one parse) or record by record: the same rows, quarantine
    and tally."""
    entity, data = case
    _assert_bulk_reads_as_plain(entity, "jsonl", data, timezone)


def test_the_one_parse_step_is_tried_only_when_most_lines_look_like_the_first() -> None:
    """A writer that leaves out null members: lines unlike the first would be parsed twice, so
    the one-parse step is skipped; the file loads the same either way."""
    from pipelines.sources.bulk import _first_line, _mostly_alike, read_bulk, split_lines

    full = {"id": "d1", "service": "api", "environment": "production", "revision": "abc",
            "finished_at": "2026-01-05T10:00:00Z", "status": "success", "fix_for": "d0"}
    short = {k: v for k, v in full.items() if k != "fix_for"}
    one, other = (json.dumps(r, separators=(",", ":")) for r in (full, short))
    for body, alike in [([one] * 40, True), ([one] + [other] * 39, False),
                        ([one, other] * 20, True), ([one] + [other] * 3, False)]:
        lines = split_lines(("\n".join(body) + "\n").encode())
        keys, compact = _first_line(lines, "deployments")
        assert compact and _mostly_alike(lines, keys) is alike
        loaded, rest = read_bulk(lines, "deployments", None)
        assert loaded.height == len(body) and len(rest) == 0
    # Lines that are not objects (found by fuzzing: a list of objects) are merely unlike.
    lines = split_lines(("\n".join([one, f"[{one}]"] * 20) + "\n").encode())
    assert _mostly_alike(lines, list(full))
    assert read_bulk(lines, "deployments", None)[1].tolist() == list(range(2, 41, 2))
