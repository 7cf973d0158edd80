"""Headless Debian Chromium driven over the Chrome DevTools Protocol, for the report tests.

`Chromium` starts `/usr/bin/chromium --headless` with a private profile and a DevTools port,
opens pages in fresh tabs and records what a person would see go wrong: console errors,
uncaught exceptions, failed loads, JavaScript dialogs (an `alert()` is recorded and dismissed)
and every network request the page makes. Only the `websockets` package (its sync client) is
needed besides the browser itself.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
    "--remote-debugging-port=0", "--window-size=1280,900",
]


def available() -> bool:
    """True when Debian's Chromium is installed."""
    return CHROMIUM.exists()


@dataclass
class PageVisit:
    """What happened while a page loaded and rendered."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.exceptions + self.log_errors


class Tab:
    """One browser tab over its own DevTools WebSocket."""

    def __init__(self, ws_url: str, visit: PageVisit) -> None:
        self._stack = ExitStack()
        self._ws = self._stack.enter_context(
            connect(ws_url, max_size=None, open_timeout=20, origin=None))
        self._ids = itertools.count(1)
        self.visit = visit

    def close(self) -> None:
        self._stack.close()

    def _record(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.visit.console_errors.append(" ".join(
                str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.visit.exceptions.append(
                details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.visit.log_errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Page.javascriptDialogOpening":
            self.visit.dialogs.append(f"{params.get('type')}: {params.get('message')}")
            self._send("Page.handleJavaScriptDialog", {"accept": True}, wait=False)
        elif method == "Network.requestWillBeSent":
            self.visit.requests.append(params.get("request", {}).get("url", ""))

    def _send(self, method: str, params: dict | None = None, wait: bool = True,
              timeout: float = 30.0) -> dict:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        if not wait:
            return {}
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method} within {timeout}s")
            message = json.loads(self._ws.recv(timeout=left))
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._record(message)

    def pump(self, seconds: float) -> None:
        """Process events for `seconds` (console messages arrive asynchronously)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._record(json.loads(self._ws.recv(timeout=left)))
            except TimeoutError:
                return

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self._send("Runtime.evaluate", {"expression": expression,
                                                 "returnByValue": True, "awaitPromise": True},
                            timeout=timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll until `expression` is truthy; its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self.pump(0.1)
        raise TimeoutError(f"{expression!r} did not become true within {timeout}s "
                           f"(errors: {self.visit.errors})")

    def click(self, selector: str) -> None:
        """Scroll the first element matching `selector` into view and click its centre with
        the mouse, as a person would (move, press, release: what plotly.js listens to)."""
        box = self.evaluate(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return null;
            el.scrollIntoView({{block: 'center', inline: 'center'}});
            const r = el.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2];
        }})()""")
        if box is None:
            raise LookupError(f"nothing matches {selector!r}")
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self._send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                    "button": "left", "clickCount": 1})
            self.pump(0.05)

    def screenshot(self, path: Path) -> Path:
        data = self._send("Page.captureScreenshot", {"format": "png",
                                                     "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))
        return path


class Chromium:
    """A headless Chromium process; `with Chromium() as browser: tab = browser.open(url)`."""

    def __init__(self, binary: Path = CHROMIUM) -> None:
        self._profile = tempfile.mkdtemp(prefix="dora-chromium-")
        self._proc = subprocess.Popen(
            [str(binary), *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._port = self._wait_for_port()
        self._tabs: list[Tab] = []

    def _wait_for_port(self, timeout: float = 30.0) -> int:
        """Chromium writes the port it chose to `DevToolsActivePort` in the profile."""
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode}")
            lines = marker.read_text().splitlines() if marker.exists() else []
            if lines and lines[0].strip().isdigit():
                return int(lines[0])
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def _http(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self._port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def open(self, url: str, ready: str | None = None, timeout: float = 60.0) -> Tab:
        """Open `url` in a new tab, wait for its load event and for `ready` (a JS expression)
        to be truthy, then let late console messages arrive."""
        return self.open_many([url], ready, timeout)[0]

    def open_many(self, urls: list[str], ready: str | None = None,
                  timeout: float = 90.0) -> list[Tab]:
        """Open every url in its own tab at once (they load in parallel), then wait for each."""
        tabs = []
        for url in urls:
            target = self._http("/json/new?about:blank", method="PUT")
            tab = Tab(target["webSocketDebuggerUrl"], PageVisit(url))
            self._tabs.append(tab)
            for domain in ("Runtime", "Log", "Page", "Network"):
                tab._send(f"{domain}.enable")
            tab._send("Page.navigate", {"url": url})
            tabs.append(tab)
        for tab in tabs:
            tab.wait_for("document.readyState === 'complete'", timeout=timeout)
            if ready:
                tab.wait_for(ready, timeout=timeout)
        for tab in tabs:
            tab.pump(0.2)
        return tabs

    def close(self) -> None:
        for tab in self._tabs:
            try:
                tab.close()
            except Exception:  # noqa: BLE001 - the browser is going away anyway
                pass
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
