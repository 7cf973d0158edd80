"""HTML assembly: Jinja templates (package files in `templates/`, autoescape on), figures as
inert JSON.

Every string from data is escaped by the templates (autoescape). Figures travel as
`<script type="application/json">` blocks whose every `<` is written `\\u003c`, so no data string
can close the script; one small inline script draws them with the plotly.js that sits beside the
pages (`plotly.min.js`, written once, never fetched from a CDN).

The JSON stays bytes from the encoder to the file: a page renders with a placeholder for each
block, and the blocks are joined in after encoding (a long history's page is megabytes of JSON,
which would otherwise be decoded, copied into the page's text and encoded again).
"""

from __future__ import annotations

import hashlib
import queue
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from pipelines.atomic import write_text_atomically
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


def figure_json(fig: dict) -> bytes:
    """A figure dict as JSON that is inert inside a `<script>` element."""
    return inert_json({"data": fig["data"], "layout": fig["layout"], "config": PLOTLY_CONFIG})


def inert_json(value: object) -> bytes:
    """`value` as UTF-8 JSON that is inert inside a `<script>` element.

    Inside a script element only `<` can end it or change how it is read (`</script`,
    `<!--`): every `<` is written `\\u003c`, which JSON reads back as `<`. orjson writes it (a
    page's figures are megabytes for a long history): dates as `date.isoformat` does, a NaN or
    an infinity as null (JSON has neither; plotly leaves a gap)."""
    raw = orjson.dumps(value, default=_json_default,
                       option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return raw.replace(b"<", b"\\u003c")


def _json_default(value: object) -> object:
    raise TypeError(f"cannot write {type(value).__name__} into a figure")


# A placeholder for a block of JSON while the page renders: NULs around a token no data knows
_TOKEN = secrets.token_hex(8)
_SLOT = re.compile(b"\0" + _TOKEN.encode() + b":([0-9]+)\0")


def render(template: str, **context: object) -> bytes:
    """Render one of the page templates (autoescaped) as UTF-8. JSON blocks (bytes) go in as
    they are: `figures` (each `{"id", "json"}`) and `records_json`."""
    blocks: list[bytes] = []

    def hold(block: bytes) -> Markup:
        blocks.append(block)
        return Markup(f"\0{_TOKEN}:{len(blocks) - 1}\0")  # noqa: S704 - a placeholder

    if "figures" in context:
        context["figures"] = [{**f, "json": hold(f["json"])} for f in context["figures"]]
    if context.get("records_json"):
        context["records_json"] = hold(context["records_json"])
    base = {"plotly_js": PLOTLY_JS, "band_prefix": BAND_PREFIX, "footer": FOOTER}
    parts = _SLOT.split(_ENV.get_template(template).render(**base, **context).encode())
    # split gives text, slot number, text, ...: each slot number becomes its block
    parts[1::2] = [blocks[int(i)] for i in parts[1::2]]
    return b"".join(parts)


def page_name(team: str) -> str:
    """The file name of a team's page: readable, unique per team, safe on any filesystem."""
    if _SIMPLE_NAME.fullmatch(team):
        return f"team-{team}.html"
    slug = re.sub(r"[^a-z0-9]+", "-", team.casefold()).strip("-")[:40] or "team"
    digest = hashlib.sha256(team.encode("utf-8")).hexdigest()[:10]
    return f"team-{slug}-{digest}.html"


def write_text(path: Path, text: str | bytes) -> None:
    """Write a file atomically (text as UTF-8), so a reader never sees half a page; readable by
    all, a web server too."""
    write_text_atomically(path, text, mode=0o644)


@contextmanager
def written_behind(depth: int = 2) -> Iterator[Callable[[Path, bytes], None]]:
    """A `write_text` whose files a thread writes while the caller goes on to the next page: a
    long page's write and its rename over the old page (milliseconds, much of them waiting on
    the disk) overlap the next page's work. At most `depth` pages wait to be written; every
    file is written when the block ends, and the first error is raised then (the files after
    it are not written)."""
    pending: queue.Queue = queue.Queue(maxsize=depth)
    failed: list[BaseException] = []

    def work() -> None:
        while True:
            try:
                item = pending.get(timeout=0.2)
            except queue.Empty:
                # The interpreter is exiting (Ctrl-C where no end of the block was reached):
                # nothing more will come.
                if not threading.main_thread().is_alive():
                    return
                continue
            if item is None:
                return
            if not failed:
                try:
                    write_text(*item)
                except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                    failed.append(exc)

    # Not a daemon: on Ctrl-C the interpreter waits for the page being written, which is then
    # renamed into place or removed (a daemon thread would be stopped mid-write, leaving its
    # temporary file in the reports folder). It ends by itself once the interpreter exits.
    thread = threading.Thread(target=work, name="report-writer")
    thread.start()

    def write(path: Path, text: bytes) -> None:
        if failed:
            raise failed[0]
        pending.put((path, text))

    try:
        yield write
    except BaseException as exc:
        pending.put(None)
        thread.join()
        if failed:  # the block's error is raised; a page that could not be written is said too
            exc.add_note(f"a page could not be written either: {failed[0]!r}")
        raise
    pending.put(None)
    thread.join()
    if failed:
        raise failed[0]


def ensure_plotly_js(folder: Path) -> Path:
    """plotly.min.js beside the pages (rewritten only when it differs)."""
    path = folder / PLOTLY_JS
    if not path.exists() or path.stat().st_size != _plotly_js_size():
        write_text(path, get_plotlyjs())
    return path


def _plotly_js_size() -> int:
    """The size of plotly's bundle as written (UTF-8): its file's size where it is a file, so
    the check reads no 5 MB bundle (twice a run) when the pages' copy is already there."""
    bundle = resources.files("plotly").joinpath("package_data", PLOTLY_JS)
    if isinstance(bundle, Path):
        return bundle.stat().st_size  # the bytes `get_plotlyjs` decodes, as they are encoded
    return len(get_plotlyjs().encode("utf-8"))
