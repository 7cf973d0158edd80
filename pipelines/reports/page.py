"""HTML assembly: Jinja templates (package files in `templates/`, autoescape on), figures as
inert JSON.

Every string from data is escaped by the templates (autoescape). Figures travel as
`<script type="application/json">` blocks whose `<`, `>` and `&` are written as `\\u003c` etc., so
no data string can close the script; one small inline script draws them with the plotly.js that
sits beside the pages (`plotly.min.js`, written once, never fetched from a CDN).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined
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

_ENV = Environment(
    loader=PackageLoader("pipelines.reports", "templates"),
    autoescape=True,  # every {{ value }} is HTML-escaped, in every template
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def figure_json(fig: dict) -> Markup:
    """A figure dict as JSON that is inert inside a `<script>` element."""
    return inert_json({"data": fig["data"], "layout": fig["layout"], "config": PLOTLY_CONFIG})


def inert_json(value: object) -> Markup:
    """`value` as JSON that is inert inside a `<script>` element.

    orjson writes it (a page's figures are megabytes for a long history; the standard library's
    encoder took most of a page's time), dates as ISO dates like `date.isoformat`."""
    raw = orjson.dumps(value, default=_json_default,
                       option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    safe = (raw.replace(b"&", b"\\u0026").replace(b"<", b"\\u003c").replace(b">", b"\\u003e")
            .replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029"))
    # every character that could end the script is escaped
    return Markup(safe.decode())  # noqa: S704


def _json_default(value: object) -> object:
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
