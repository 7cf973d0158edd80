"""The report pages in a real browser: headless Debian Chromium over the DevTools Protocol.

Each page must render every chart with no console error, no uncaught exception, no dialog and
no request leaving the local files (plotly.js comes from beside the pages, never a CDN). A team
named `<script>alert(1)</script>` must show up as text.
"""

from __future__ import annotations

import json

import browser
import pytest
from reportkit import (
    FAILED_WEEK_1,
    LEAD_TIMES_WEEK_1,
    LONG_SERVICE,
    LONG_TEAM,
    QUIET,
    TEAMS,
    XSS_INCIDENT_ID,
    XSS_SERVICE,
    XSS_TEAM,
    XSS_TITLE,
    long_names_org,
    small_org,
)

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
TABLE = """(() => {{
    const box = document.querySelector('.records[data-for="{fig}"]');
    if (!box || box.hidden) return null;
    return {{caption: box.querySelector('.caption-text').textContent,
             count: box.querySelector('.count').textContent,
             rows: Array.from(box.querySelectorAll('tbody tr'))
                 .map(tr => Array.from(tr.cells).map(td => td.textContent))}};
}})()"""


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


def _click_monthly(tab: browser.Tab, fig: str) -> None:
    """Click the Monthly button of chart `fig` (it shows the monthly series)."""
    tab.evaluate(f"""(() => {{
        const button = Array.from(
            document.querySelectorAll('#{fig} .updatemenu-button'))
            .find(b => b.textContent === 'Monthly');
        button.dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
    }})()""")


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
    _click_monthly(tab, "fig-lead-time-p50-hours")
    state = tab.wait_for("""(() => {
        const data = document.getElementById('fig-lead-time-p50-hours').data
            .filter(t => t.meta && t.meta.grain);
        const ok = data.every(t => (t.visible === true) === (t.meta.grain === 'month'));
        return ok ? JSON.stringify(data.map(t => [t.meta.grain, t.visible])) : null;
    })()""")
    assert ["month", True] in json.loads(state)
    assert tab.visit.errors == []


# ---- a click on a point opens its records --------------------------------------------------------


def _first_point(fig: str) -> str:
    """The selector of the first drawn point of a chart's weekly series (oldest week)."""
    return f"#{fig} .scatterlayer .trace .points path"


def test_click_a_point_opens_its_records(chromium: browser.Chromium, small: DoraConfig) -> None:
    """The lead time of payments' week of 2026-01-05 is the median of 5 changes
    (tests/known_answers.py: 27, 6, 2, 2, 1 h); a click on that point lists them, slowest first.
    Its change failure rate (5 of 8 deployments failed) lists D1-D8, the failed ones with why."""
    tab = open_clean(chromium, small, page_name("payments"))
    assert tab.evaluate("document.querySelector('.records:not([hidden])')") is None
    tab.click(_first_point("fig-lead-time-p50-hours"))
    table = tab.wait_for(TABLE.format(fig="fig-lead-time-p50-hours"))
    assert table["caption"] == ("Lead time for changes, week of 2026-01-05: 2.0 h "
                                "(n = 5 changes)")
    assert table["count"] == "5 records"
    assert [row[2] for row in table["rows"]] == [f"{h:.1f} h" for h in LEAD_TIMES_WEEK_1]
    assert {row[0] for row in table["rows"]} == {"change"}

    tab.click(_first_point("fig-change-failure-rate"))
    table = tab.wait_for(TABLE.format(fig="fig-change-failure-rate"))
    assert table["caption"].startswith("Change failure rate, week of 2026-01-05: 62.5%")
    rows = table["rows"]
    assert sorted(row[1] for row in rows) == [f"D{i}" for i in range(1, 9)]
    assert sorted(row[1] for row in rows if row[3]) == FAILED_WEEK_1  # why, for the failed
    assert [row[1] for row in rows][:5] == FAILED_WEEK_1  # failed ones first
    # the monthly view opens the month's records
    _click_monthly(tab, "fig-lead-time-p50-hours")
    tab.wait_for("""document.getElementById('fig-lead-time-p50-hours').data
        .some(t => t.meta && t.meta.grain === 'month' && t.visible === true)""")
    tab.pump(0.3)
    tab.click(_first_point("fig-lead-time-p50-hours"))
    tab.wait_for(TABLE.format(fig="fig-lead-time-p50-hours")
                 + ".caption.includes('January 2026')")
    table = tab.evaluate(TABLE.format(fig="fig-lead-time-p50-hours"))
    assert len(table["rows"]) == 5
    tab.evaluate("document.querySelector('.records[data-for=\"fig-lead-time-p50-hours\"] "
                 "button.close').click()")
    assert tab.evaluate(TABLE.format(fig="fig-lead-time-p50-hours")) is None
    assert tab.visit.errors == [] and tab.visit.dialogs == []
    assert all(u.startswith("file://") for u in tab.visit.requests)  # offline


def test_records_of_a_hostile_team_are_text(chromium: browser.Chromium,
                                            small: DoraConfig) -> None:
    """The hostile team's failed deployment W2 says why in its detail, naming the incident
    `<b>I9</b>`: the records table shows it as text, bold nothing and runs nothing."""
    tab = open_clean(chromium, small, page_name(XSS_TEAM))
    tab.click(_first_point("fig-deployments"))
    table = tab.wait_for(TABLE.format(fig="fig-deployments"))
    assert [row[1] for row in table["rows"]] == ["W2", "W1", "W3"]  # the failed one first
    assert [row[3] for row in table["rows"]] == [f"incident {XSS_INCIDENT_ID}", "", ""]
    assert tab.evaluate("document.querySelectorAll('.records b').length") == 0
    assert tab.evaluate("document.querySelectorAll('img').length") == 0
    tab.pump(0.3)
    assert tab.visit.dialogs == [] and tab.visit.errors == []


# ---- names of any length -------------------------------------------------------------------------


def test_long_names_keep_the_page_layout(chromium: browser.Chromium,
                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """A 10 kB service and SLO name and a 200-character team name: the page stays the
    viewport's width (no horizontal scroll), the timeline keeps its plot width (the axis shows
    the name cut short), and the full team name is there on hover (the heading's title)."""
    config = long_names_org(tmp_path_factory.mktemp("long"))
    write_reports(config, progress=lambda _m: None)
    tab = open_clean(chromium, config, page_name(LONG_TEAM))
    viewport = tab.evaluate("window.innerWidth")
    assert tab.evaluate("document.documentElement.scrollWidth") <= viewport
    assert tab.evaluate("document.body.scrollWidth") <= viewport
    plot = tab.evaluate("document.getElementById('fig-timeline')._fullLayout._size.w")
    width = tab.evaluate("document.getElementById('fig-timeline').clientWidth")
    assert plot >= 0.6 * width, (plot, width)  # the name did not squeeze the timeline
    ticks = tab.evaluate("""Array.from(document.querySelectorAll('#fig-timeline .ytick text'))
        .map(t => t.textContent)""")
    assert len(ticks) == 1 and ticks[0].endswith("…") and len(ticks[0]) < 40
    assert LONG_SERVICE.startswith(ticks[0][:-1])
    assert tab.evaluate("document.querySelector('h1').title") == LONG_TEAM
    for fig in ("fig-slos", "fig-deployments"):
        size = tab.evaluate(f"document.getElementById('{fig}')._fullLayout._size.w")
        assert size >= 0.6 * tab.evaluate(f"document.getElementById('{fig}').clientWidth"), fig
    index = open_clean(chromium, config, "index.html")
    assert index.evaluate("document.documentElement.scrollWidth") <= viewport
