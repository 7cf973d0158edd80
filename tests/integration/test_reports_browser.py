"""The report pages in a real browser: headless Debian Chromium over the DevTools Protocol.

Each page must render every chart with no console error, no uncaught exception, no dialog and
no request leaving the local files (plotly.js comes from beside the pages, never a CDN). A team
named `<script>alert(1)</script>` must show up as text.
"""

from __future__ import annotations

import json

import browser
import pytest
from reportkit import QUIET, TEAMS, XSS_SERVICE, XSS_TEAM, XSS_TITLE, small_org

from pipelines.config import DoraConfig
from pipelines.reports.page import page_name
from pipelines.reports.run import write_reports

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser.available(),
                       reason="needs Debian's Chromium at /usr/bin/chromium "
                              "(apt-get install chromium)"),
]

READY = "document.body.getAttribute('data-plots-ready')"
METRIC_FIGURES = ["deployments", "lead-time-p50-hours", "change-failure-rate", "fdrt-p50-hours",
                  "time-to-restore-p50-hours", "rework-rate", "slo-met-ratio"]


@pytest.fixture(scope="module")
def chromium():
    with browser.Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DoraConfig:
    config = small_org(tmp_path_factory)
    config = config.model_copy(update={"reports_dir": tmp_path_factory.mktemp("pages")})
    write_reports(config, progress=lambda _m: None)
    return config


def check_clean(tab: browser.Tab) -> browser.Tab:
    """Every chart of the page is drawn, and nothing went wrong on the way."""
    visit = tab.visit
    name = visit.url.rsplit("/", 1)[-1]
    assert visit.errors == [], (name, visit.errors)
    assert visit.dialogs == [], (name, visit.dialogs)
    assert visit.requests and all(u.startswith("file://") for u in visit.requests), \
        (name, visit.requests)
    expected = tab.evaluate("document.querySelectorAll('script.figure-data').length")
    assert expected > 0 and int(tab.evaluate(READY)) == expected
    drawn = tab.evaluate("""Array.from(document.querySelectorAll('.js-plotly-plot'))
        .filter(gd => gd.querySelector('svg.main-svg') && gd._fullData.length).length""")
    assert drawn == expected, (name, drawn, expected)
    return tab


def open_clean(chromium: browser.Chromium, config: DoraConfig, name: str) -> browser.Tab:
    """Open one page, wait until every chart is drawn, and check nothing went wrong."""
    return check_clean(chromium.open((config.reports_path / name).as_uri(), ready=READY))


def test_hostile_team_name_is_text(chromium: browser.Chromium, small: DoraConfig) -> None:
    tab = open_clean(chromium, small, page_name(XSS_TEAM))
    assert tab.evaluate("document.querySelector('h1').textContent") == XSS_TEAM
    assert tab.evaluate("document.title").startswith(XSS_TEAM)
    assert tab.evaluate("document.querySelectorAll('img').length") == 0
    inline = tab.evaluate("""Array.from(document.scripts)
        .filter(s => !s.src && s.type !== 'application/json').map(s => s.textContent)""")
    assert len(inline) == 1 and "alert" not in inline[0]
    ticks = tab.evaluate("""Array.from(document.querySelectorAll('#fig-timeline .ytick text'))
        .map(t => t.textContent)""")
    assert ticks == [XSS_SERVICE]  # plotly.js shows the markup as text, it does not parse it
    # hover the incident: its title and id appear as text in the hover label
    curve = tab.evaluate("""document.getElementById('fig-timeline').data
        .findIndex(t => t.meta && t.meta.role === 'incident')""")
    tab.evaluate(f"Plotly.Fx.hover('fig-timeline', [{{curveNumber: {curve}, pointNumber: 0}}])")
    label = tab.wait_for("""(document.querySelector('#fig-timeline .hoverlayer .hovertext')
        || {}).textContent""")
    assert XSS_TITLE in label and "<b>I9</b>" in label
    tab.pump(0.2)
    assert tab.visit.dialogs == [] and tab.visit.errors == []


def test_index_links_teams_alphabetically(chromium: browser.Chromium, small: DoraConfig) -> None:
    tab = open_clean(chromium, small, "index.html")
    names = tab.evaluate("Array.from(document.querySelectorAll('ul.teams > li > a'))"
                         ".map(a => a.textContent)")
    assert names == TEAMS
    footer = tab.evaluate("document.getElementById('footer').textContent")
    assert "Teams are never ranked." in footer
    quiet = chromium.open((small.reports_path / page_name(QUIET)).as_uri(), ready=READY)
    assert quiet.visit.errors == [] and quiet.evaluate(READY) == "0"
    assert "No records for this team yet." in quiet.evaluate("document.body.textContent")


@pytest.mark.slow
def test_demo_pages_render(chromium: browser.Chromium, demo_run) -> None:
    config = demo_run.config
    teams = sorted(p.name for p in config.reports_path.glob("team-*.html"))
    assert len(teams) == 6
    pages = ["index.html", *teams]
    tabs = chromium.open_many([(config.reports_path / p).as_uri() for p in pages], ready=READY)
    index, *team_tabs = [check_clean(tab) for tab in tabs]
    hrefs = index.evaluate("Array.from(document.querySelectorAll('ul.teams > li > a'))"
                           ".map(a => a.getAttribute('href'))")
    assert sorted(hrefs) == teams
    for name, tab in zip(teams, team_tabs, strict=True):
        for fig in METRIC_FIGURES:
            points = tab.evaluate(
                f"document.querySelectorAll('#fig-{fig} .scatterlayer .trace .points path')"
                ".length")
            assert points > 0, (name, fig)
        deployments = tab.evaluate(
            "document.querySelectorAll('#fig-timeline .scatterlayer .points path').length")
        assert deployments > 50, name


@pytest.mark.slow
def test_bands_switch_off_and_monthly_view(chromium: browser.Chromium, demo_run) -> None:
    tab = open_clean(chromium, demo_run.config, page_name("payments"))
    shapes = "document.querySelectorAll('#fig-lead-time-p50-hours .layer-below path').length"
    drawn = tab.evaluate(shapes)
    assert drawn >= 3
    tab.evaluate("document.getElementById('show-bands').click()")
    tab.wait_for(f"{shapes} === 0")
    hidden = tab.evaluate("""Array.from(document.querySelectorAll('.js-plotly-plot'))
        .flatMap(gd => (gd.layout.shapes || [])
                 .filter(s => s.name && s.name.startsWith('dora-band')))
        .every(s => s.visible === false)""")
    assert hidden
    tab.evaluate("document.getElementById('show-bands').click()")
    tab.wait_for(f"{shapes} === {drawn}")
    # the Monthly button of the lead-time chart switches every trace to the monthly series
    tab.evaluate("""(() => {
        const button = Array.from(
            document.querySelectorAll('#fig-lead-time-p50-hours .updatemenu-button'))
            .find(b => b.textContent === 'Monthly');
        button.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    })()""")
    state = tab.wait_for("""(() => {
        const data = document.getElementById('fig-lead-time-p50-hours').data
            .filter(t => t.meta && t.meta.grain);
        const ok = data.every(t => (t.visible === true) === (t.meta.grain === 'month'));
        return ok ? JSON.stringify(data.map(t => [t.meta.grain, t.visible])) : null;
    })()""")
    assert ["month", True] in json.loads(state)
    assert tab.visit.errors == []
