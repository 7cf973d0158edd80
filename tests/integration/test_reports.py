"""Team reports: figures with the known answers, escaping, the index, Dagster, the demo.

The figures are read back out of the written pages (the JSON each page hands to plotly.js), so
what is checked is what a reader gets. Rendering in a real browser is in test_reports_browser.py.
"""

from __future__ import annotations

import html
import json
import queue
import re
from pathlib import Path

import dagster as dg
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs
from reportkit import (
    QUIET,
    TEAMS,
    XSS_INCIDENT_ID,
    XSS_SERVICE,
    XSS_TEAM,
    XSS_TITLE,
    small_org,
)

from pipelines.config import DoraConfig, load_config
from pipelines.errors import UserError
from pipelines.reports import run as report_run
from pipelines.reports.folder import MANIFEST, ReportsFolderError
from pipelines.reports.page import FOOTER, PLOTLY_JS, page_name
from pipelines.reports.run import partition_key, team_of_key, write_reports

FIGURE = re.compile(
    r'<script type="application/json" class="figure-data" data-target="([^"]+)">(.*?)</script>',
    re.S)
RECORDS = re.compile(r'<script type="application/json" id="records-data">(.*?)</script>', re.S)
METRIC_FIGURES = ["deployments", "lead-time-p50-hours", "change-failure-rate", "fdrt-p50-hours",
                  "time-to-restore-p50-hours", "rework-rate", "slo-met-ratio"]


def _quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> DoraConfig:
    config = small_org(tmp_path_factory)
    write_reports(config, progress=_quiet)
    return config


def figures_of(page: Path) -> dict[str, dict]:
    """Every figure a page hands to plotly.js, by its element id."""
    return {fid: json.loads(raw) for fid, raw in FIGURE.findall(page.read_text("utf-8"))}


def trace(fig: dict, **meta: str) -> dict:
    found = [t for t in fig["data"] if all((t.get("meta") or {}).get(k) == v
                                           for k, v in meta.items())]
    assert len(found) == 1, f"expected one trace with {meta}, found {len(found)}"
    return found[0]


def team_page(config: DoraConfig, team: str) -> Path:
    return config.reports_path / page_name(team)


# ---- figures against the known answers ---------------------------------------------------------


def test_every_figure_is_valid_plotly(org: DoraConfig) -> None:
    pages = sorted(org.reports_path.glob("*.html"))
    assert len(pages) == 5  # three teams, unassigned, index
    for page in pages:
        figs = figures_of(page)
        assert bool(figs) == (page.name != page_name(QUIET)), page
        for fid, fig in figs.items():
            go.Figure(data=fig["data"], layout=fig["layout"])  # raises on any invalid property
            assert fig["config"]["displaylogo"] is False, fid


def test_lead_time_figure_has_the_known_answers(org: DoraConfig) -> None:
    fig = figures_of(team_page(org, "payments"))["fig-lead-time-p50-hours"]
    weekly = trace(fig, grain="week", role="points")
    assert weekly["x"] == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]
    assert weekly["y"] == [2.0, None, None, 0.5]
    # week 1 rests on 5 lead times (= min_sample: not low); week 4 on one: faded, open
    assert weekly["marker"]["opacity"][0] == 1.0 and weekly["marker"]["opacity"][3] < 1.0
    assert weekly["marker"]["symbol"][3] == "circle-open"
    assert "n = 5 changes" in weekly["hovertext"][0]
    assert "low sample" in weekly["hovertext"][3] and "n = 1 changes" in weekly["hovertext"][3]
    rolling = trace(fig, grain="week", role="rolling")
    assert rolling["y"] == [None, None, None, 1.25]  # median of 2.0 and 0.5 over 4 weeks
    monthly = trace(fig, grain="month", role="points")
    assert (monthly["x"], monthly["y"]) == (["2026-01-01", "2026-02-01"], [2.0, 0.5])
    assert monthly["visible"] is False and weekly["visible"] is True
    buttons = fig["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["Weekly", "Monthly"]
    monthly_view = buttons[1]["args"][0]["visible"]
    grains = [(t.get("meta") or {}).get("grain") for t in fig["data"]]
    assert all(v == (g in ("month", None)) for v, g in zip(monthly_view, grains, strict=True))


def test_rate_figure_carries_the_wilson_interval_as_a_band(org: DoraConfig) -> None:
    fig = figures_of(team_page(org, "payments"))["fig-change-failure-rate"]
    weekly = trace(fig, grain="week", role="points")
    assert weekly["y"] == [0.625, None, None, 0.0]
    band = trace(fig, grain="week", role="interval")
    assert band["fill"] == "toself"
    assert max(v for v in band["y"] if v is not None) == pytest.approx(0.8632, abs=1e-3)
    assert min(v for v in band["y"] if v is not None) == pytest.approx(0.0, abs=1e-9)
    assert "95% interval 30.6% – 86.3%" in weekly["hovertext"][0]
    assert "n = 8 deployments" in weekly["hovertext"][0]


def test_deployment_frequency_is_per_week_in_both_views(org: DoraConfig) -> None:
    fig = figures_of(team_page(org, "payments"))["fig-deployments"]
    assert trace(fig, grain="week", role="points")["y"] == [8.0, 0.0, 0.0, 1.0]
    monthly = trace(fig, grain="month", role="points")["y"]
    assert monthly == [pytest.approx(8 / (31 / 7)), pytest.approx(1 / (28 / 7))]


def test_dora_bands_of_the_report_year_sit_behind_the_line(org: DoraConfig) -> None:
    fig = figures_of(team_page(org, "payments"))["fig-lead-time-p50-hours"]
    bands = [s for s in fig["layout"]["shapes"] if s["name"].startswith("dora-band")]
    assert bands and all(s["layer"] == "below" for s in bands)
    assert any("DORA 2024 elite" in s["label"]["text"] for s in bands)
    y_max = fig["layout"]["yaxis"]["range"][1]
    assert all(s["y1"] <= y_max for s in bands)  # clipped: bands never stretch the axis
    cfr = figures_of(team_page(org, "payments"))["fig-change-failure-rate"]
    lines = [s for s in cfr["layout"]["shapes"] if s["name"].startswith("dora-band")]
    assert {s["type"] for s in lines} == {"line"}  # from 2023 the CFR clusters are points
    rework = figures_of(team_page(org, "payments"))["fig-rework-rate"]
    assert rework["layout"]["shapes"] == []  # DORA publishes no bands for rework
    # the 2024 clusters of failed deployment recovery time: elite under an hour, high and
    # medium under a day (one band, both names), low a week to a month (clipped away here)
    fdrt = figures_of(team_page(org, "payments"))["fig-fdrt-p50-hours"]
    labels = [s["label"]["text"] for s in fdrt["layout"]["shapes"]
              if s["name"].startswith("dora-band")]
    assert labels[:2] == ["DORA 2024 elite: Less than one hour",
                          "DORA 2024 high / medium: Less than one day"]
    ttr = figures_of(team_page(org, "payments"))["fig-time-to-restore-p50-hours"]
    assert ttr["layout"]["shapes"] == []  # no published clusters for the incident view
    text = team_page(org, "payments").read_text("utf-8")
    assert text.count("from the 2024 Accelerate State of DevOps Report") >= 4  # each band


def test_trend_sentences_state_their_test(org: DoraConfig) -> None:
    text = team_page(org, "payments").read_text("utf-8")
    # 2 weeks with a lead time, 4 weeks of deployment counts: under the 6 points a test needs
    assert "lead time: not enough data for a trend (2 of 12 weeks)" in text
    assert "deployment frequency: not enough data for a trend (4 of 12 weeks)" in text
    body = text.split('<footer id="footer">')[0]
    assert "improving" not in body and "worsening" not in body


def test_lead_time_breakdown(org: DoraConfig) -> None:
    fig = figures_of(team_page(org, "payments"))["fig-breakdown"]
    # week of 2026-01-05: PR #1 (coding 4, pickup 2, review 2, deploy 19) and
    # PR #2 (coding 1, pickup 2, review 1, deploy 2)
    expected = {"coding": 2.5, "pickup": 2.0, "review": 1.5, "deploy": 10.5}
    for segment, value in expected.items():
        t = trace(fig, grain="week", role=segment)
        assert t["x"][0] == "2026-01-05" and t["y"][0] == value
        assert "n = 2 changes" in t["hovertext"][0]


def test_deployment_timeline(org: DoraConfig) -> None:
    fig = figures_of(team_page(org, "payments"))["fig-timeline"]

    def ids(role: str) -> list[str]:
        return [h.split("</b>")[0].removeprefix("<b>") for h in trace(fig, role=role)["hovertext"]]

    assert ids("failed") == ["D3", "D4", "D6", "D7", "D8"]
    assert ids("rollback") == ["D5", "D7"]
    assert ids("fix") == ["D8"]
    assert sorted(ids("deployment")) == ["D1", "D2", "D3", "D4", "D6", "D9"]
    incidents = trace(fig, role="incident")
    assert len(incidents["x"]) == 5  # I1–I5; I6's service is unmapped: it is `unassigned`'s
    assert "attributed to D3 (by deployment_id)" in incidents["hovertext"][0]
    assert trace(fig, role="failed")["x"][0] == "2026-01-08 12:00"


def test_slo_attainment_and_error_budget(org: DoraConfig) -> None:
    fig = figures_of(team_page(org, "payments"))["fig-slos"]
    attainment = trace(fig, grain="week", role="attainment")
    assert attainment["x"] == ["2026-01-05", "2026-01-12"]
    assert attainment["y"] == [pytest.approx(0.9925), pytest.approx(0.98)]
    budget = trace(fig, grain="week", role="budget")
    assert budget["y"] == [pytest.approx(0.25), pytest.approx(-1.0)]


def test_data_coverage(org: DoraConfig) -> None:
    payments = figures_of(team_page(org, "payments"))["fig-coverage"]["data"][0]
    assert payments["text"][:3] == ["9 of 9", "2 of 6", "3 of 4"]
    assert payments["x"][:3] == [1.0, pytest.approx(2 / 6), 0.75]
    hostile = figures_of(team_page(org, XSS_TEAM))["fig-coverage"]["data"][0]
    assert hostile["text"][:3] == ["3 of 3", "no records", "1 of 1"]


# ---- escaping --------------------------------------------------------------------------------


def test_data_strings_are_escaped_everywhere(org: DoraConfig) -> None:
    for page in org.reports_path.glob("*.html"):
        text = page.read_text("utf-8")
        for hostile in (XSS_TEAM, XSS_SERVICE, XSS_TITLE, XSS_INCIDENT_ID, "alert(1)</"):
            assert hostile not in text, (page.name, hostile)
        # inside a script element only `<` can end it or change how it is read (`</script`,
        # `<!--`; no character references there): no block of JSON holds one
        for _fid, raw in FIGURE.findall(text):
            assert "<" not in raw
        records = RECORDS.findall(text)
        for raw in records:
            assert "<" not in raw
        # the only scripts are the figure data, the records, plotly.min.js and our own code
        scripts = re.findall(r"<script[^>]*>", text)
        assert len(scripts) == len(FIGURE.findall(text)) + len(records) + 2, page.name
    page = team_page(org, XSS_TEAM).read_text("utf-8")
    name = html.escape(XSS_TEAM)
    assert f'<h1 class="name" title="{name}">{name}</h1>' in page
    assert f"<title>{html.escape(XSS_TEAM)} · DORA metrics</title>" in page


def test_figure_text_reaches_plotly_as_entities(org: DoraConfig) -> None:
    fig = figures_of(team_page(org, XSS_TEAM))["fig-timeline"]
    service = html.escape(XSS_SERVICE, quote=False)
    assert set(trace(fig, role="deployment")["y"]) == {service}
    assert fig["layout"]["yaxis"]["categoryarray"] == [service]
    hover = trace(fig, role="incident")["hovertext"][0]
    assert html.escape(XSS_TITLE, quote=False) in hover
    assert html.escape(XSS_INCIDENT_ID, quote=False) in hover


# ---- the index -------------------------------------------------------------------------------


def test_index_lists_teams_alphabetically_with_their_own_direction(org: DoraConfig) -> None:
    text = (org.reports_path / "index.html").read_text("utf-8")
    teams = re.search(r'<ul class="teams">(.*?)</ul>\s*</li>\s*</ul>', text, re.S).group(0)
    links = re.findall(r'<li><a href="([^"]+)">([^<]*)</a>', teams)
    names = [html.unescape(name) for _, name in links]
    assert names == TEAMS
    assert [href for href, _ in links] == [page_name(n) for n in names]
    assert "lead time: not enough data for a trend" in teams
    assert f'href="{page_name("unassigned")}"' in text  # records no team owns, apart


def test_index_never_ranks_teams(org: DoraConfig) -> None:
    text = (org.reports_path / "index.html").read_text("utf-8")
    body, footer = text.split('<footer id="footer">')
    for word in ("rank", "leaderboard", "league", "best team", "worst team", "top team"):
        assert word not in body.lower(), word
    assert "Teams are never ranked." in footer and FOOTER.split(".")[0] in footer
    assert "DORA" in footer and "improve against its own past" in footer
    assert "<ol" not in body  # no numbered list of teams
    # the organisation charts show spreads over teams without naming any team
    for fid, fig in figures_of(org.reports_path / "index.html").items():
        blob = json.dumps(fig)
        for name in ("payments", "alert(1)", "unassigned"):
            assert name not in blob, (fid, name)
        assert fig["data"][0]["type"] == "box" and fig["data"][0]["hoverinfo"] == "y"


def test_a_team_without_records_gets_a_plain_page(org: DoraConfig) -> None:
    text = team_page(org, QUIET).read_text("utf-8")
    assert "No records for this team yet." in text and not FIGURE.findall(text)
    index = (org.reports_path / "index.html").read_text("utf-8")
    assert f'href="{page_name(QUIET)}"' in index
    assert "lead time: not enough data for a trend (0 of 12 weeks)" in index


def test_team_pages_carry_the_footer(org: DoraConfig) -> None:
    text = team_page(org, "payments").read_text("utf-8")
    assert "Teams are never ranked." in text and "dora.dev" in text
    assert "2024 Accelerate State of DevOps Report" in text


def test_pages_work_offline(org: DoraConfig) -> None:
    bundle = org.reports_path / PLOTLY_JS
    assert bundle.read_text("utf-8") == get_plotlyjs()
    for page in org.reports_path.glob("*.html"):
        text = page.read_text("utf-8")
        assert re.findall(r'<script src="([^"]+)"', text) == [PLOTLY_JS]
        assert "cdn.plot.ly" not in text and "<link" not in text
        assert not re.search(r'src="https?:', text)


def test_one_team_is_rewritten_alone(org: DoraConfig, tmp_path: Path) -> None:
    config = org.model_copy(update={"reports_dir": tmp_path / "reports"})
    write_reports(config, progress=_quiet)
    # a page this product wrote for a team that has since gone: listed in the manifest
    stale = config.reports_path / "team-gone.html"
    stale.write_text("old", encoding="utf-8")
    manifest = config.reports_path / MANIFEST
    listed = json.loads(manifest.read_text("utf-8"))
    manifest.write_text(json.dumps({**listed, "files": [*listed["files"], stale.name]}),
                        encoding="utf-8")
    before = {p.name: p.stat().st_mtime_ns for p in config.reports_path.glob("*.html")}
    messages: list[str] = []
    index = write_reports(config, progress=messages.append, teams=["payments"])
    after = {p.name: p.stat().st_mtime_ns for p in config.reports_path.glob("*.html")}
    assert index == config.reports_path / "index.html"
    assert after["team-payments.html"] != before["team-payments.html"]
    assert after[page_name(XSS_TEAM)] == before[page_name(XSS_TEAM)]
    assert stale.exists()  # a partial refresh leaves other files alone
    write_reports(config, progress=_quiet)
    assert not stale.exists()  # a full run drops pages of teams that are gone
    assert stale.name not in json.loads(manifest.read_text("utf-8"))["files"]
    assert any("payments" in m for m in messages)


# ---- the reports folder is the product's own ---------------------------------------------------


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and mtime."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_users_files_in_the_reports_folder_are_never_touched(org: DoraConfig,
                                                               tmp_path: Path) -> None:
    """Files someone else put in the product's folder keep their bytes and mtimes through a
    full rewrite, even when they look like pages (`team-victim-notes.html`)."""
    config = org.model_copy(update={"reports_dir": tmp_path / "reports"})
    write_reports(config, progress=_quiet)
    folder = config.reports_path
    (folder / "team-victim-notes.html").write_text("my notes", encoding="utf-8")
    (folder / "notes.txt").write_bytes(b"\x00binary\xff")
    (folder / "sub").mkdir()
    (folder / "sub" / "index.html").write_text("mine too", encoding="utf-8")
    theirs = {k: v for k, v in _snapshot(folder).items()
              if k in ("team-victim-notes.html", "notes.txt", "sub/index.html")}
    assert len(theirs) == 3
    write_reports(config, progress=_quiet)
    after = _snapshot(folder)
    assert {k: after[k] for k in theirs} == theirs
    listed = set(json.loads((folder / MANIFEST).read_text("utf-8"))["files"])
    assert listed == {"index.html", PLOTLY_JS, *(page_name(t) for t in [*TEAMS, "unassigned"])}


def test_a_foreign_folder_is_refused_and_left_as_it_was(org: DoraConfig, tmp_path: Path) -> None:
    """A non-empty folder without a manifest is someone else's: one line naming the folder,
    nothing written, nothing deleted (the user's index.html and plotly.min.js included)."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<p>my site</p>", encoding="utf-8")
    (folder / PLOTLY_JS).write_text("// my own build", encoding="utf-8")
    (folder / "team-victim-notes.html").write_text("notes", encoding="utf-8")
    before = _snapshot(folder)
    config = org.model_copy(update={"reports_dir": folder})
    for attempt in (lambda: write_reports(config, progress=_quiet),
                    lambda: report_run.build_team_report(config, "payments"),
                    lambda: report_run.build_index(config)):
        with pytest.raises(ReportsFolderError) as caught:
            attempt()
        message = str(caught.value)
        assert isinstance(caught.value, UserError) and "\n" not in message
        assert str(folder) in message and MANIFEST in message
        assert _snapshot(folder) == before
        assert sorted(p.name for p in folder.iterdir()) == sorted(before)


def test_a_file_the_manifest_does_not_list_is_not_overwritten(org: DoraConfig,
                                                              tmp_path: Path) -> None:
    """The folder is ours (a manifest), but someone put an index.html there that we never
    wrote: refused, naming the file, and the file keeps its bytes."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps({"product": "dora-pipeline", "files": []}),
                                   encoding="utf-8")
    (folder / "index.html").write_text("theirs", encoding="utf-8")
    before = _snapshot(folder)
    config = org.model_copy(update={"reports_dir": folder})
    with pytest.raises(ReportsFolderError, match="index.html was not written by dora-pipeline"):
        write_reports(config, progress=_quiet)
    assert _snapshot(folder) == before


def test_page_names_are_safe_and_distinct() -> None:
    names = ["payments", "Payments", "a b", "a-b", XSS_TEAM, "../../etc", "x" * 200, "ünï"]
    files = [page_name(n) for n in names]
    assert len(set(files)) == len(files)
    assert all(re.fullmatch(r"team-[a-z0-9_-]+\.html", f) for f in files)
    assert page_name("payments") == "team-payments.html"


# ---- Dagster ---------------------------------------------------------------------------------


def _defs_and_resources(config: DoraConfig) -> tuple[dg.Definitions, dict]:
    from pipelines.defs.reports.assets import report_index, team_report
    from pipelines.defs.resources import DoraResource

    config_path = config.config_dir / "dora.yaml"
    assert load_config(config_path).warehouse_path == config.warehouse_path
    resources = {"dora": DoraResource(config_path=str(config_path))}
    return dg.Definitions(assets=[team_report, report_index], resources=resources), resources


def test_report_stage_records_one_partition_per_team(org: DoraConfig) -> None:
    from pipelines.runner import RunSummary

    defs, resources = _defs_and_resources(org)
    instance = dg.DagsterInstance.ephemeral()
    summary = RunSummary(config=org)
    messages: list[str] = []
    report_run.report_stage(defs=defs, assets=list(defs.assets), resources=resources,
                            instance=instance, config=org, progress=messages.append,
                            summary=summary)
    teams = [*TEAMS, "unassigned"]
    assert instance.get_dynamic_partitions("teams") == [partition_key(t) for t in teams]
    # pages are written in one pass, not one Dagster run each: their materialisations are
    # recorded with the metadata the asset gives
    assert summary.run_ids == []
    assert any("payments" in m for m in messages)
    key = dg.AssetKey("team_report")
    for team in teams:
        event = instance.get_latest_materialization_event(key)  # the last one: unassigned
        assert event is not None
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition_key(team)]),
            limit=1).records
        metadata = records[0].asset_materialization.metadata
        assert metadata["path"].value == str(team_page(org, team))
        assert metadata["team"].value == team
        if team != QUIET:
            assert "| Lead time for changes |" in metadata["latest"].value
            assert "lead time" in metadata["trends"].value
    index = instance.get_latest_materialization_event(dg.AssetKey("report_index"))
    meta = index.asset_materialization.metadata
    assert meta["path"].value == str(org.reports_path / "index.html")
    assert meta["team_count"].value == 3
    table = meta["teams"].value
    assert html.escape(XSS_TEAM) in table and XSS_TEAM not in table
    assert table.index(html.escape(XSS_TEAM)) < table.index("payments")  # alphabetical


def test_team_partition_can_be_refreshed_alone(org: DoraConfig) -> None:
    defs, resources = _defs_and_resources(org)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("teams", ["payments"])
    page = team_page(org, "payments")
    page.unlink()
    result = dg.materialize(list(defs.assets), selection=[dg.AssetKey("team_report")],
                            partition_key="payments", resources=resources, instance=instance)
    assert result.success and page.exists()
    (mat,) = result.asset_materializations_for_node("team_report")
    assert mat.partition == "payments"
    assert ("| Change failure rate | 0.0% | 1 deployments (low) | 0.0% – 79.3% |"
            in mat.metadata["latest"].value)


def test_partition_keys_dagster_cannot_take() -> None:
    odd = "ops... and more"
    key = partition_key(odd)
    assert "..." not in key and team_of_key(key, ["payments", odd]) == odd
    assert partition_key(XSS_TEAM) == XSS_TEAM
    assert team_of_key("gone", ["payments"]) == "gone"


def test_sensor_adds_missing_team_partitions(org: DoraConfig) -> None:
    from pipelines.defs.reports.sensors import team_partitions

    _, resources = _defs_and_resources(org)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("teams", ["payments"])
    context = dg.build_sensor_context(instance=instance, resources=resources)
    result = team_partitions(context)
    (request,) = result.dynamic_partitions_requests
    assert request.partitions_def_name == "teams"
    assert list(request.partition_keys) == [XSS_TEAM, QUIET, "unassigned"]


def test_cli_report_rewrites_the_pages(org: DoraConfig) -> None:
    from pipelines.cli import main

    index = org.reports_path / "index.html"
    index.unlink()
    assert main(["report", "--config", str(org.config_dir / "dora.yaml")]) == 0
    assert index.exists()


# ---- the demo --------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_run_writes_every_team_report(demo_run) -> None:
    from pipelines.demo.generator import OrgShape, team_trends

    config = demo_run.config
    trends = team_trends(OrgShape())
    index = (config.reports_path / "index.html").read_text("utf-8")
    for team, direction in trends.items():
        page = team_page(config, team)
        figs = figures_of(page)
        assert all(f"fig-{m}" in figs for m in METRIC_FIGURES), team
        weekly = trace(figs["fig-lead-time-p50-hours"], grain="week", role="points")
        assert len(weekly["x"]) >= 50 and sum(v is not None for v in weekly["y"]) >= 40
        text = html.unescape(page.read_text("utf-8"))
        if direction != "flat":  # the generator's own trend is found, with its test
            assert re.search(rf"lead time {direction}: [−+][\d.]+ h/week, p [<=] [\d.]+ "
                             r"over 12 weeks", text), (team, direction)
        assert f'href="{page_name(team)}"' in index
    assert (config.reports_path / PLOTLY_JS).exists()


def test_reorganisations_are_marked_on_the_charts(tmp_path: Path) -> None:
    """`ledger` moves from payments to core on 2026-01-08: both pages say so, and every
    time-series chart of both teams marks the day (the coverage bars do not)."""
    from eventkit import load_and_build, write_config, write_events

    write_events(tmp_path / "events", deployments=[
        {"id": f"D-{x}", "service": "ledger", "environment": "production", "revision": x,
         "finished_at": f"2026-01-0{d}T12:00:00Z", "status": "success"}
        for x, d in (("a", 7), ("b", 8), ("c", 9))])
    config = load_and_build(write_config(
        tmp_path,
        teams=[{"name": "payments", "services": [{"name": "ledger", "until": "2026-01-08"}]},
               {"name": "core", "services": [{"name": "ledger", "from": "2026-01-08"}]}],
        services=[{"name": "ledger", "repo": "acme/mono"}]))
    write_reports(config, progress=_quiet)
    for team, words in (("payments", "handed ledger to core"),
                        ("core", "took over ledger from payments")):
        page = team_page(config, team)
        assert f"2026-01-08: {words}" in page.read_text("utf-8")
        for fid, fig in figures_of(page).items():
            marks = [s for s in fig["layout"].get("shapes", [])
                     if s.get("name") == "reorganisation"]
            if fid == "fig-coverage":
                assert marks == []
            else:
                assert [m["x0"] for m in marks] == ["2026-01-08"], fid


def test_pages_built_in_worker_processes_are_the_same(org: DoraConfig, tmp_path: Path) -> None:
    """Pages written by two worker processes (what a large organisation gets) equal the pages
    written in-process, byte for byte, and so does the index built from their trends."""
    serial = org.model_copy(update={"reports_dir": tmp_path / "serial"})
    parallel = org.model_copy(update={"reports_dir": tmp_path / "parallel"})
    write_reports(serial, progress=_quiet, workers=1)
    messages: list[str] = []
    write_reports(parallel, progress=messages.append, workers=2)
    names = sorted(p.name for p in serial.reports_path.iterdir())
    assert names == sorted(p.name for p in parallel.reports_path.iterdir())
    for name in names:
        assert ((serial.reports_path / name).read_bytes()
                == (parallel.reports_path / name).read_bytes()), name
    teams = [*TEAMS, "unassigned"]
    pages = [m for m in messages if "→ team-" in m]  # one line per page, as pages land
    assert sorted(m.split(" → ")[1] for m in pages) == sorted(page_name(t) for t in teams)
    assert sorted(m.split("(")[-1].split(")")[0] for m in pages) == sorted(
        f"{i}/{len(teams)}" for i in range(1, len(teams) + 1))


@pytest.mark.parametrize("workers", [1, 2])
def test_each_page_is_said_as_it_lands(org: DoraConfig, tmp_path: Path, workers: int) -> None:
    """Progress names each page as it is built, not all of them when the last is done: when
    the first page is said, pages are still to come (this process writes its share in order,
    and says its first page before it builds its second; with workers, the first line said is
    this process's own first page and its share has several)."""
    config = org.model_copy(update={"reports_dir": tmp_path / f"pages-{workers}"})
    pages = [config.reports_path / page_name(t) for t in [*TEAMS, "unassigned"]]
    seen: list[tuple[str, int]] = []

    def progress(message: str) -> None:
        if "→ team-" in message:
            seen.append((message, sum(p.exists() for p in pages)))

    write_reports(config, progress=progress, workers=workers)
    assert len(seen) == len(pages)
    assert seen[0][1] < len(pages), seen[0]  # pages still to come
    assert all(p.exists() for p in pages)


class _AllStagesFirst:
    """`load_teams`' stages as a queue that gives every stage before the end (None), and the end
    only once the pages' thread has nothing left to work out: every section of every page
    worked out ahead, whatever the timing."""

    def __init__(self, stages: list) -> None:
        self._stages = list(stages)

    def get(self, block: bool = True) -> object:
        if self._stages:
            return self._stages.pop(0)
        if block:
            return None
        raise queue.Empty


def test_pages_worked_out_ahead_are_the_same_as_pages_worked_out_alone(
        org: DoraConfig, tmp_path: Path) -> None:
    """The sections of the first pages are worked out while the tables are read, each as its
    table comes in. Every page is the same, byte for byte, with all of them worked out ahead
    and with none (each page from its own data alone)."""
    alone = org.model_copy(update={"reports_dir": tmp_path / "alone"})
    ahead = org.model_copy(update={"reports_dir": tmp_path / "ahead"})
    stages: list = []
    with report_run.warehouse(org) as conn:
        overview = report_run.load_overview(conn)
        teams = [*overview.teams, "unassigned"]
        data = report_run.load_teams(conn, overview, teams, report_run.RECORD_SETS,
                                     lambda stage, of: stages.append((stage, of)))
    assert [s for s, _ in stages] == ["reorganisations", "slos", "breakdown", "timeline"]
    worked = {t: report_run.Ahead() for t in teams if overview.metrics_of(t, "week").height}
    report_run._work_ahead(org, overview, worked, _AllStagesFirst(stages))
    assert all(sorted(w.sections) == sorted(report_run.SECTIONS) for w in worked.values())
    for team in teams:
        report_run._write_team(alone, overview, data[team])
        report_run._write_team(ahead, overview, data[team], ahead=worked.get(team))
        written = team_page(org, team).read_bytes()
        assert (alone.reports_path / page_name(team)).read_bytes() == written, team
        assert (ahead.reports_path / page_name(team)).read_bytes() == written, team


def test_the_cli_refuses_a_foreign_reports_folder_in_one_line(
        org: DoraConfig, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """`report` into someone's folder (their index.html and plotly.min.js): exit 1, one line
    naming the folder, no traceback, and their files keep their bytes and mtimes."""
    import yaml

    from pipelines.cli import main

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>my site</p>", encoding="utf-8")
    (site / PLOTLY_JS).write_text("// mine", encoding="utf-8")
    before = _snapshot(site)
    config = yaml.safe_load((org.config_dir / "dora.yaml").read_text("utf-8"))
    other = org.config_dir / "foreign-reports.yaml"
    other.write_text(yaml.safe_dump({**config, "reports_dir": str(site)}), encoding="utf-8")
    capfd.readouterr()
    assert main(["report", "--config", str(other)]) == 1
    err = capfd.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("• ")]
    assert len(lines) == 1 and str(site) in lines[0] and MANIFEST in lines[0], err
    assert _snapshot(site) == before


def _page_records(page: Path) -> dict[tuple[str, str, str], list[tuple]]:
    """The records a page can open, per (metric, grain, period), decoded from its columnar
    JSON as draw.js reads it: a metric's cell is its record set's span of `rows`/`hours`."""
    (raw,) = RECORDS.findall(page.read_text("utf-8"))
    data = json.loads(raw)
    out: dict[tuple[str, str, str], list[tuple]] = {}
    for metric, record_set in data["sets"].items():
        for key, (first, count) in data["cells"].items():
            cell_set, grain, period = key.split("|")
            if cell_set == record_set:
                out[(metric, grain, period)] = [
                    (data["kinds"][data["kind"][i]], data["id"][i], hours, data["detail"][i])
                    for i, hours in zip(data["rows"][first:first + count],
                                        data["hours"][first:first + count], strict=True)]
    return out


def test_records_a_page_opens_are_the_views_rows(org: DoraConfig) -> None:
    """Every cell a page can open lists exactly the `metric_records` rows of that metric,
    grain and period, in the table's order (records with a detail first, then the longest
    hours, then by id), for every team; payments' lead time in the week of 2026-01-05 is its
    5 changes, 27, 6, 2, 2 and 1 h (tests/known_answers.py), and `changes` opens the same."""
    from pipelines.reports.data import warehouse

    with warehouse(org) as conn:
        rows = conn.execute(
            "SELECT team, metric, grain, strftime(period_start, '%Y-%m-%d'), record_kind, "
            "record_id, round(value_hours, 3), detail FROM metric_records "
            "WHERE team <> 'all teams' AND list_contains(?, metric) "
            "ORDER BY team, metric, grain, period_start, detail IS NULL, "
            "value_hours DESC NULLS LAST, record_id", [report_run.RECORD_METRICS]).fetchall()
    expected: dict[str, dict[tuple[str, str, str], list[tuple]]] = {}
    for team, metric, grain, period, *record in rows:
        expected.setdefault(team, {}).setdefault((metric, grain, period), []).append(
            tuple(record))
    assert set(expected) >= {"payments", XSS_TEAM}
    for team, cells in expected.items():
        assert _page_records(team_page(org, team)) == cells, team
    payments = _page_records(team_page(org, "payments"))
    week = payments[("lead_time_p50_hours", "week", "2026-01-05")]
    assert [r[2] for r in week] == [27.0, 6.0, 2.0, 2.0, 1.0]
    assert payments[("changes", "week", "2026-01-05")] == week


def test_a_page_that_fails_fails_the_chunk_with_its_own_error(org: DoraConfig,
                                                               tmp_path: Path) -> None:
    """A page that cannot be written ends the chunk with that page's error (the records of
    the pages after it are given up, not worked out for nothing); the pages before it stand."""
    failing = org.model_copy(update={"reports_dir": tmp_path / "reports"})
    with report_run.warehouse(org) as conn:
        teams = [*report_run.load_overview(conn).teams, "unassigned"]
    blocked = failing.reports_path / page_name(teams[1])
    blocked.mkdir(parents=True)  # a folder where the second page goes
    with pytest.raises(IsADirectoryError) as raised:
        report_run.build_chunk(failing, teams)
    assert raised.value.filename2 == str(blocked)  # the rename onto the page names it
    assert (failing.reports_path / page_name(teams[0])).read_bytes() == \
        team_page(org, teams[0]).read_bytes()
    assert not (failing.reports_path / page_name(teams[2])).exists()
