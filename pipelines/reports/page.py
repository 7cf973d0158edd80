"""HTML assembly: a small Jinja2 template with autoescape on, figures as inert JSON.

Every string from data is escaped by the template (autoescape). Figures travel as
`<script type="application/json">` blocks whose `<`, `>` and `&` are written as `\\u003c` etc., so
no data string can close the script; one small inline script draws them with the plotly.js that
sits beside the pages (`plotly.min.js`, written once, never fetched from a CDN).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from jinja2 import DictLoader, Environment, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from pipelines.reports.figures import BAND_PREFIX, PLOTLY_CONFIG

PLOTLY_JS = "plotly.min.js"
INDEX = "index.html"
_SIMPLE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")

FOOTER = (
    "Teams appear in alphabetical order, and no page sorts, scores or "
    "compares teams by a metric. This follows DORA's own guidance: the four keys are for a team "
    "to improve against its own past, not to compare teams with one another. Teams work on "
    "different systems under different constraints, and a league table invites gaming the "
    "numbers instead of improving the work. The DORA performance bands behind the charts are "
    "context from one year's survey, not targets or grades."
)

_BASE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2733;
        background: #f6f7f9; line-height: 1.45; }
 main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
 header.top { background: #fff; border-bottom: 1px solid #dde2e8; }
 header.top div { max-width: 1100px; margin: 0 auto; padding: 1rem 1.25rem; }
 h1 { font-size: 1.6rem; margin: .2rem 0; overflow-wrap: anywhere; }
 h2 { font-size: 1.2rem; margin: 0 0 .3rem; }
 a { color: #1f4f96; }
 .sub { color: #5b6673; margin: 0; }
 section.card { background: #fff; border: 1px solid #dde2e8; border-radius: 8px;
                padding: 1rem 1.1rem; margin: 1rem 0; }
 p.trend { font-weight: 600; margin: .2rem 0; }
 p.explain, p.caption { color: #5b6673; font-size: .9rem; margin: .25rem 0; }
 .figure { min-height: 200px; }
 table { border-collapse: collapse; font-size: .9rem; width: 100%; }
 th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e6e9ee;
          vertical-align: top; }
 th { color: #5b6673; font-weight: 600; }
 ul.teams { list-style: none; padding: 0; margin: 0; }
 ul.teams > li { padding: .6rem 0; border-bottom: 1px solid #e6e9ee; }
 ul.teams > li > a { font-weight: 600; font-size: 1.05rem; overflow-wrap: anywhere; }
 ul.trends { margin: .2rem 0 0; padding-left: 1.1rem; color: #3a4552; font-size: .9rem; }
 .controls { margin: .6rem 0 0; font-size: .9rem; }
 nav.toc a { margin-right: .8rem; font-size: .9rem; }
 footer { max-width: 1100px; margin: 0 auto; padding: 1rem 1.25rem 2rem; color: #5b6673;
          font-size: .85rem; border-top: 1px solid #dde2e8; }
 .missing { color: #c62828; font-weight: 600; }
</style>
</head>
<body data-plots-expected="{{ figures|length }}">
<header class="top"><div>
{% block header %}{% endblock %}
{% if band_toggle %}
<p class="controls"><label><input type="checkbox" id="show-bands" checked>
 Show the DORA {{ year }} performance bands behind the charts (context, not targets)</label></p>
{% endif %}
</div></header>
<main>
<p id="plotly-missing" class="missing" hidden>The charts need {{ plotly_js }} beside this page.
</p>
{% block content %}{% endblock %}
</main>
<footer id="footer">
<p><strong>Teams are never ranked.</strong> {{ footer }}
 See DORA's guide to the software delivery metrics at
 <a href="https://dora.dev/guides/dora-metrics-four-keys/">dora.dev</a>.
 Bands: {{ band_source }}.</p>
<p>Intervals are 95%: distribution-free for medians, Wilson for rates. A trend is stated only
 with its test (Theil–Sen slope, Mann–Kendall p-value, last {{ trend_periods }} weeks); faded
 points rest on fewer than {{ min_sample }} samples.</p>
</footer>
{% for fig in figures %}
<script type="application/json" class="figure-data" data-target="{{ fig.id }}">
{{- fig.json -}}
</script>
{% endfor %}
<script src="{{ plotly_js }}" charset="utf-8"></script>
<script>
(function () {
  "use strict";
  var BAND = "{{ band_prefix }}";
  function setBands(on) {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      var update = {};
      ((gd.layout && gd.layout.shapes) || []).forEach(function (shape, i) {
        if (String(shape.name || "").indexOf(BAND) === 0) {
          update["shapes[" + i + "].visible"] = on;
        }
      });
      if (Object.keys(update).length) { Plotly.relayout(gd, update); }
    });
  }
  window.doraSetBands = setBands;
  if (typeof window.Plotly === "undefined") {
    document.getElementById("plotly-missing").hidden = false;
    document.body.setAttribute("data-plots-error", "plotly.js missing");
    return;
  }
  var drawn = [];
  document.querySelectorAll("script.figure-data").forEach(function (el) {
    var spec = JSON.parse(el.textContent);
    var div = document.getElementById(el.getAttribute("data-target"));
    drawn.push(Plotly.newPlot(div, spec.data, spec.layout, spec.config));
  });
  Promise.all(drawn).then(function () {
    var box = document.getElementById("show-bands");
    if (box) {
      box.addEventListener("change", function () { setBands(box.checked); });
      if (!box.checked) { setBands(false); }
    }
    document.body.setAttribute("data-plots-ready", String(drawn.length));
  });
})();
</script>
</body>
</html>
"""

_TEAM = """{% extends "base.html" %}
{% block header %}
<p class="sub"><a href="index.html">All teams</a></p>
<h1>{{ team }}</h1>
<p class="sub">DORA metrics {% if first %}for the weeks {{ first }} to {{ last }}{% endif %}.
 Every chart shows this team against its own past.</p>
{% if reorganisations %}
<p class="sub" id="reorganisations">Services changed hands (dashed lines on the charts):
{% for r in reorganisations %}{{ r }}{% if not loop.last %}; {% endif %}{% endfor %}.</p>
{% endif %}
{% endblock %}
{% block content %}
{% if not has_data %}
<section class="card"><p>No records for this team yet.</p></section>
{% else %}
<nav class="toc">
{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}
</nav>
<section class="card" id="glance">
<h2>At a glance</h2>
<table>
<thead><tr><th>metric</th><th>latest month ({{ latest_month }})</th><th>sample</th>
<th>95% interval</th><th>last {{ trend_periods }} weeks</th></tr></thead>
<tbody>
{% for row in glance %}
<tr><td>{{ row.title }}</td><td>{{ row.value }}</td><td>{{ row.sample }}</td>
<td>{{ row.interval }}</td><td>{{ row.trend }}</td></tr>
{% endfor %}
</tbody></table>
</section>
{% for m in metrics %}
<section class="card" id="{{ m.anchor }}">
<h2>{{ m.title }}</h2>
<p class="trend">{{ m.trend }}</p>
<p class="explain">{{ m.explain }}</p>
<div class="figure" id="{{ m.figure_id }}"></div>
<p class="caption">{{ m.caption }}</p>
</section>
{% endfor %}
<section class="card" id="breakdown">
<h2>Lead-time breakdown</h2>
<p class="explain">Median hours per segment of a change: coding (first commit to pull request),
 pickup (to the first review by someone else), review (to merge) and deploy (to production).
 Medians of segments need not add up to the median lead time.</p>
{% if breakdown_figure %}<div class="figure" id="{{ breakdown_figure }}"></div>
{% else %}<p>No pull-request data for this team's changes.</p>{% endif %}
</section>
<section class="card" id="timeline">
<h2>Deployments and incidents</h2>
<p class="explain">Each production deployment per service. Red rings: failed deployments;
 triangles: rollbacks; diamonds: fixes and hotfixes; stars: incidents, with a bar until they
 were resolved. Hover for ids, reasons and recovery; times are UTC.</p>
<div class="figure" id="{{ timeline_figure }}"></div>
<p class="caption">{{ timeline_summary }}</p>
</section>
<section class="card" id="slos">
<h2>SLO attainment and error budget</h2>
{% if slo_figure %}
<div class="figure" id="{{ slo_figure }}"></div>
<table>
<thead><tr><th>SLO</th><th>service</th><th>objective</th><th>{{ latest_month }}</th>
<th>met</th><th>error budget left</th></tr></thead>
<tbody>
{% for row in slo_rows %}
<tr><td>{{ row.slo }}</td><td>{{ row.service }}</td><td>{{ row.objective }}</td>
<td>{{ row.attainment }}</td><td>{{ row.met }}</td><td>{{ row.budget }}</td></tr>
{% endfor %}
</tbody></table>
{% else %}<p>No SLO data for this team's services.</p>{% endif %}
</section>
<section class="card" id="coverage">
<h2>Data coverage</h2>
<p class="explain">How much of this page rests on linked data. Low coverage means the numbers
 above describe only part of the team's work.</p>
<div class="figure" id="{{ coverage_figure }}"></div>
<table>
<thead><tr><th>measure</th><th>share</th><th>count</th><th>why it matters</th></tr></thead>
<tbody>
{% for row in coverage %}
<tr><td>{{ row.label }}</td><td>{{ row.share_text }}</td><td>{{ row.num }} of {{ row.den }}</td>
<td>{{ row.note }}</td></tr>
{% endfor %}
</tbody></table>
{% if incident_sources %}
<table id="incident-sources">
<thead><tr><th>incident source</th><th>incidents</th><th>by deployment id</th><th>by commit</th>
<th>by time window</th><th>not attributed</th><th>skipped: unmapped service (all teams)</th>
</tr></thead>
<tbody>
{% for row in incident_sources %}
<tr><td>{{ row.source }}</td><td>{{ row.incidents }}</td><td>{{ row.by_deployment_id }}</td>
<td>{{ row.by_commit }}</td><td>{{ row.by_time_window }}</td><td>{{ row.not_attributed }}</td>
<td>{{ row.skipped_unmapped }}</td></tr>
{% endfor %}
</tbody></table>
{% endif %}
</section>
{% endif %}
{% endblock %}
"""

_INDEX = """{% extends "base.html" %}
{% block header %}
<h1>DORA metrics</h1>
<p class="sub">{{ teams|length }} teams{% if first %}, weeks {{ first }} to {{ last }}{% endif %}.
 Each team's page shows the team against its own past.</p>
{% endblock %}
{% block content %}
<section class="card" id="teams">
<h2>Teams (alphabetical)</h2>
<p class="explain">Each team's own direction of change over its last {{ trend_periods }} weeks.
 Directions are not comparable between teams and the list is in alphabetical order only.</p>
<ul class="teams">
{% for t in teams %}
<li><a href="{{ t.href }}">{{ t.name }}</a>
<ul class="trends">{% for s in t.trends %}<li>{{ s }}</li>{% endfor %}</ul></li>
{% endfor %}
</ul>
{% if unassigned %}
<p class="explain">Records of services that no team owns in the config:
 <a href="{{ unassigned }}">unassigned</a>.</p>
{% endif %}
</section>
<section class="card" id="organisation">
<h2>The organisation</h2>
<p class="explain">Computed from all records, not averaged over teams. The spreads show how
 teams' monthly values are distributed without naming which team is where.</p>
<ul class="trends">{% for s in org_trends %}<li>{{ s }}</li>{% endfor %}</ul>
</section>
{% for m in metrics %}
<section class="card" id="{{ m.anchor }}">
<h2>{{ m.title }}</h2>
<p class="explain">{{ m.explain }}</p>
<div class="figure" id="{{ m.figure_id }}"></div>
</section>
{% endfor %}
{% endblock %}
"""

_ENV = Environment(
    loader=DictLoader({"base.html": _BASE, "team.html": _TEAM, "index.html": _INDEX}),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def figure_json(fig: dict) -> Markup:
    """A figure dict as JSON that is inert inside a `<script>` element."""
    spec = {"data": fig["data"], "layout": fig["layout"], "config": PLOTLY_CONFIG}
    raw = json.dumps(spec, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                     default=_json_default)
    safe = (raw.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return Markup(safe)  # noqa: S704 - every character that could end the script is escaped


def _json_default(value: object) -> object:
    if isinstance(value, dt.date):  # datetimes are dates too
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} into a figure")


def render(template: str, **context: object) -> str:
    """Render one of the page templates (autoescaped)."""
    base = {"plotly_js": PLOTLY_JS, "band_prefix": BAND_PREFIX, "footer": FOOTER}
    return _ENV.get_template(template).render(**base, **context)


def page_name(team: str) -> str:
    """The file name of a team's page: readable, unique per team, safe on any filesystem."""
    if _SIMPLE_NAME.fullmatch(team):
        return f"team-{team}.html"
    slug = re.sub(r"[^a-z0-9]+", "-", team.casefold()).strip("-")[:40] or "team"
    digest = hashlib.sha256(team.encode("utf-8")).hexdigest()[:10]
    return f"team-{slug}-{digest}.html"


def write_text(path: Path, text: str) -> None:
    """Write a file atomically, so a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # a page is for reading, by a web server too
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_plotly_js(folder: Path) -> Path:
    """plotly.min.js beside the pages (rewritten only when it differs)."""
    path = folder / PLOTLY_JS
    bundle = get_plotlyjs()
    if not path.exists() or path.stat().st_size != len(bundle.encode("utf-8")):
        write_text(path, bundle)
    return path
