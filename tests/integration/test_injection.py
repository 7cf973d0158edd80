"""Injection: team, service and label values built to break SQL, HTML, paths and terminals.

Quotes, `;` and `--`, `<script>`, `../`, percent-escapes, a right-to-left override, rich markup,
NUL. Every such value is data: stored and shown exactly as written, never executed or
interpreted; a NUL is refused with a clear message (config) or quarantined (event files).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from eventkit import load_and_build, write_events

from pipelines.cli import _print_summary
from pipelines.config import ConfigError, load_config
from pipelines.landing import batch_files, safe_segment
from pipelines.markdown import markdown_table
from pipelines.reports.page import page_name
from pipelines.reports.run import partition_key, team_of_key, write_reports
from pipelines.sources.files import read_folder

HOSTILE = [
    "O'Brien \"team\"",
    "ops'; DROP TABLE team_metrics; --",
    "<script>alert(1)</script>",
    "../../../etc/passwd",
    "..",
    "%2e%2e%2fup",
    "C:\\Windows\\..\\x",
    "rtl\u202efdp.exe",
    "[bold red]markup[/]",
    "pipe | in | name",
]
LABELS = ["hotfix", "'; DELETE FROM deployments; --", "<img src=x onerror=alert(9)>", "../x"]
PAGE = re.compile(r"(index\.html|plotly\.min\.js|\.dora-reports\.json|team-[a-z0-9_-]+\.html)")


def _service(team: str) -> str:
    return f"svc {team}"


@pytest.fixture(scope="module")
def hostile_org(tmp_path_factory: pytest.TempPathFactory):
    """Every hostile name as a team owning a service of the same hostile name, each with three
    production deployments carrying hostile labels, built and reported."""
    root = tmp_path_factory.mktemp("hostile")
    deployments = [
        {"id": f"{team}#{i}", "service": _service(team), "environment": "production",
         "revision": f"r{i}", "finished_at": f"2026-01-{5 + i:02d}T12:00:00Z",
         "status": "success", "labels": LABELS}
        for team in HOSTILE for i in range(3)
    ]
    write_events(root / "events", deployments=deployments)
    config = {
        "warehouse": "data/dora.duckdb", "reports_dir": "reports",
        "teams": [{"name": t, "services": [_service(t)]} for t in HOSTILE],
        "services": [{"name": _service(t), "repo": f"acme/{t}"} for t in HOSTILE],
        # A hostile source name decides landing folder names.
        "sources": [{"kind": "files", "name": "../../../outside", "path": "events"}],
    }
    path = root / "dora.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    before = {p for p in root.parent.rglob("*")}
    built = load_and_build(path)
    write_reports(built, progress=lambda _message: None)
    created = {p for p in root.parent.rglob("*")} - before
    return built, created


def test_sql_keeps_every_value_as_data(hostile_org) -> None:
    config, _ = hostile_org
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        tables = {r[0] for r in conn.execute("SHOW TABLES").fetchall()}
        assert {"team_metrics", "deployments", "teams"} <= tables  # nothing dropped
        teams = {r[0] for r in conn.execute("SELECT DISTINCT team FROM team_metrics").fetchall()}
        assert teams == set(HOSTILE)
        rows = conn.execute("SELECT team, sum(deployments)::BIGINT FROM team_metrics "
                            "WHERE grain = 'month' GROUP BY team").fetchall()
        assert dict(rows) == dict.fromkeys(HOSTILE, 3)
        labels = conn.execute("SELECT DISTINCT labels FROM deployments").fetchall()
        assert labels == [(LABELS,)]
        # A lookup by a hostile name, bound as a parameter, finds exactly that team.
        for team in HOSTILE:
            found = conn.execute("SELECT count(*) FROM teams WHERE team = ?", [team]).fetchone()
            assert found == (1,), team


def test_report_files_stay_in_the_reports_folder_with_safe_names(hostile_org) -> None:
    config, created = hostile_org
    reports = config.reports_path
    landing = config.landing_path
    for path in created:
        inside = [folder for folder in (reports, landing, config.warehouse_path.parent,
                                        config.config_dir) if path.is_relative_to(folder)]
        assert inside, f"{path} was written outside the org's folder"
    pages = sorted(p.name for p in reports.iterdir())
    assert all(PAGE.fullmatch(name) for name in pages), pages
    # one page per team, the index, plotly.min.js, the manifest of what was written
    assert len(pages) == len(HOSTILE) + 3
    assert len({page_name(t) for t in HOSTILE}) == len(HOSTILE)  # no two teams share a page
    for team in [*HOSTILE, "/", "\\", ".", "a/../../b", "x\x00y"]:
        name = page_name(team)
        assert PAGE.fullmatch(name) and "/" not in name and ".." not in name, (team, name)


def test_landing_folders_cannot_climb_out(hostile_org) -> None:
    config, _ = hostile_org
    files = batch_files(config.landing_path, "deployments")
    assert files, "the hostile source landed nothing"
    for path in files:
        assert Path(path).resolve().is_relative_to(config.landing_path.resolve())
    for value in ["../../../outside", "..", "/etc", "a/b", "x\x00y", "."]:
        segment = safe_segment(value)
        assert "/" not in segment and "\x00" not in segment and segment not in (".", "..")


class _Tags(HTMLParser):
    """The elements and attributes of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []  # character references decoded, as a reader sees it

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    return parser


def test_html_shows_hostile_names_as_text(hostile_org) -> None:
    config, _ = hostile_org
    reports = config.reports_path
    plain = _parse((reports / page_name("..")).read_text(encoding="utf-8"))
    index = "".join(_parse((reports / "index.html").read_text(encoding="utf-8")).text)
    for team in HOSTILE:
        text = (reports / page_name(team)).read_text(encoding="utf-8")
        page = _parse(text)
        # The same elements as any other team's page: the name created none.
        assert sorted(page.tags) == sorted(plain.tags), team
        assert "onerror" not in page.attributes
        assert "<script>alert" not in text and "<img src=x" not in text
        # … and the name is there, as text, on its page and in the index.
        assert team in "".join(page.text), team
        assert team in index, team


def test_terminal_and_dagster_metadata_show_names_literally(
        hostile_org, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config, _ = hostile_org
    monkeypatch.setenv("COLUMNS", "400")  # one line per team: names are not folded
    _print_summary(config)
    out = "".join(capsys.readouterr().out.split())
    assert "[boldred]markup[/]" in out  # rich markup printed, not applied
    table = markdown_table([(t, 1) for t in HOSTILE], ["team", "n"]).split("\n")
    # Each row has its two cells: a name cannot add a column (unescaped `|`) or a row.
    assert len(table) == len(HOSTILE) + 2
    assert all(len(re.split(r"(?<!\\)\|", line)) == 4 for line in table), table
    # Dagster accepts every team's partition key, and each key leads back to its team.
    instance = dg.DagsterInstance.ephemeral()
    keys = [partition_key(t) for t in HOSTILE]
    instance.add_dynamic_partitions("teams", keys)
    assert [team_of_key(k, HOSTILE) for k in keys] == HOSTILE


def test_nul_is_refused_in_the_config_and_quarantined_in_events(tmp_path: Path) -> None:
    for body in ('teams: [{name: "pay\\0ments", services: []}]',
                 'services: [{name: "api\\0", repo: acme/api}]',
                 'sources: [{kind: files, path: "ev\\0ents"}]'):
        path = tmp_path / "dora.yaml"
        path.write_text(body + "\n", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert "line 1" in str(caught.value) and "NUL" in str(caught.value), str(caught.value)
        assert "\x00" not in str(caught.value)
    good = {"id": "d", "service": "api", "environment": "production", "revision": "r",
            "finished_at": "2026-01-05T12:00:00Z", "status": "success"}
    write_events(tmp_path / "events", deployments=[
        {**good, "id": "d1", "service": "api\x00"},
        {**good, "id": "d2", "labels": ["ok", "bad\x00"]},
        {**good, "id": "d3\x00"},
        {**good, "id": "d4"},
    ])
    result = read_folder(tmp_path / "events", "events")
    reasons = dict(zip(result.quarantine["record_key"], result.quarantine["reason"],
                       strict=True))
    assert reasons == {"d1": "`service` contains a NUL character",
                       "d2": "`labels[1]` contains a NUL character",
                       "d3\x00": "`id` contains a NUL character"}
    assert result.frames["deployments"]["id"].to_list() == ["d4"]
