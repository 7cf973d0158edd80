"""Fakes of PagerDuty's REST API v2 and Jira Cloud's REST API v3 on 127.0.0.1 (pytest-httpserver).

They answer as the real APIs do where the sources depend on it: auth headers checked (401), the
6-month `since`/`until` limit and the 10,000-result offset limit of PagerDuty (400), Jira's
`nextPageToken`/`isLast` paging with pages shorter than asked, the old `/search` answering 410;
and faults on demand: 429 with Retry-After, a connection cut before the answer.
PagerDuty's fake speaks TLS with a throwaway CA (`tls_server`), as its client requires https.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

SIX_MONTHS = dt.timedelta(days=184)


@contextmanager
def tls_server(folder: Path) -> Iterator[tuple[HTTPServer, Path]]:
    """A pytest-httpserver speaking TLS on 127.0.0.1, and the PEM file of the CA that signed its
    certificate (point SSL_CERT_FILE at it; verification stays on)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = folder / "fake-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context, threaded=True)
    server.start()
    try:
        yield server, ca_file
    finally:
        server.clear()
        server.stop()


def _cut(request: Request) -> Response:
    """Close the connection without an answer (a dropped connection, as the client sees it)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
    return Response("", status=500)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers,
                    content_type="application/json")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakePagerDuty:
    """`GET /incidents`, `/incidents/{id}`, `/incidents/{id}/log_entries`, `/log_entries`."""

    def __init__(self, token: str, incidents: list[dict[str, Any]],
                 log_entries: list[dict[str, Any]] | None = None) -> None:
        self.token = token
        self.incidents = incidents
        self.log_entries = log_entries or []
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.faults: list[str] = []  # consumed one per request: "429", "503", "cut"

    def install(self, server: HTTPServer) -> None:
        server.expect_request(re.compile("^/.*$"), method="GET").respond_with_handler(
            self.handle)

    def handle(self, request: Request) -> Response:
        params = {k: request.args.getlist(k) for k in request.args}
        self.requests.append((request.path, params))
        if request.headers.get("Authorization") != f"Token token={self.token}":
            return _json({"error": {"message": "Unauthorized", "code": 2006}}, 401)
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "429":
                return _json({"error": {"message": "Rate Limit Exceeded", "code": 2020}}, 429,
                             {"Retry-After": "1"})
            if fault == "503":
                return _json({"error": {"message": "Service Unavailable"}}, 503)
            return _cut(request)
        path = request.path
        if path == "/incidents":
            return self._list(params, self._filtered(params), "incidents")
        if path == "/log_entries":
            return self._list(params, self.log_entries, "log_entries")
        found = re.fullmatch(r"/incidents/([^/]+)(/log_entries)?", path)
        if found:
            incident = next((i for i in self.incidents if i["id"] == found.group(1)), None)
            if incident is None:
                return _json({"error": {"message": "Not Found", "code": 2100}}, 404)
            if found.group(2):
                return _json({"log_entries": [e for e in self.log_entries
                                              if e["incident"]["id"] == incident["id"]]})
            return _json({"incident": incident})
        return _json({"error": {"message": "Not Found"}}, 404)

    def _filtered(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        services = params.get("service_ids[]")
        urgencies = params.get("urgencies[]")
        return [i for i in self.incidents
                if (not services or i["service"]["id"] in services)
                and (not urgencies or i["urgency"] in urgencies)]

    def _list(self, params: dict[str, list[str]], records: list[dict[str, Any]],
              key: str) -> Response:
        since, until = _time(params["since"][0]), _time(params["until"][0])
        if until - since > SIX_MONTHS:
            return _json({"error": {"message": "Invalid Input Provided", "code": 2001,
                                    "errors": ["Date range cannot exceed 6 months"]}}, 400)
        limit = int(params.get("limit", ["25"])[0])
        offset = int(params.get("offset", ["0"])[0])
        if limit > 100 or offset + limit > 10_000:
            return _json({"error": {"message": "Invalid Input Provided", "code": 2001,
                                    "errors": ["Offset must be less than 10000"]}}, 400)
        chosen = sorted((r for r in records if since <= _time(r["created_at"]) < until),
                        key=lambda r: (r["created_at"], r["id"]))
        body: dict[str, Any] = {key: chosen[offset:offset + limit], "limit": limit,
                                "offset": offset, "more": offset + limit < len(chosen),
                                "total": len(chosen) if params.get("total") == ["true"]
                                else None}
        return _json(body)


class FakeJira:
    """`GET /rest/api/3/search/jql` over a list of issues, with a tiny JQL: the configured query
    (ignored: every issue matches it) and `updated >= "yyyy/MM/dd HH:mm"` in the site's zone."""

    def __init__(self, email: str, token: str, issues: list[dict[str, Any]],
                 offset: str = "-0800", page_size: int = 2) -> None:
        self.auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()
        self.issues = issues
        self.zone = dt.timezone(dt.timedelta(hours=int(offset[:3]), minutes=int(offset[0]
                                                                              + offset[3:])))
        self.page_size = page_size  # pages may be smaller than maxResults
        self.requests: list[dict[str, str]] = []
        self.faults: list[str] = []

    def install(self, server: HTTPServer) -> None:
        server.expect_request("/rest/api/3/search", method="GET").respond_with_json(
            {"errorMessages": ["The requested API has been removed. Please migrate to the "
                               "/rest/api/3/search/jql API."]}, status=410)
        server.expect_request("/rest/api/3/search/jql", method="GET").respond_with_handler(
            self.handle)

    def handle(self, request: Request) -> Response:
        params = dict(request.args)
        self.requests.append(params)
        if request.headers.get("Authorization") != self.auth:
            return Response("", status=401)
        if self.faults:
            if self.faults.pop(0) == "429":
                return _json({"errorMessages": ["Rate limit exceeded"]}, 429,
                             {"Retry-After": "1"})
            return _cut(request)
        chosen = self.issues
        found = re.search(r'updated >= "(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d)"', params["jql"])
        if found:
            since = dt.datetime(*map(int, found.groups()), tzinfo=self.zone)
            chosen = [i for i in chosen if _jira_time(i["fields"]["updated"]) >= since]
        start = int(params.get("nextPageToken", "0"))
        size = min(self.page_size, int(params.get("maxResults", "50")))
        page = chosen[start:start + size]
        last = start + size >= len(chosen)
        body: dict[str, Any] = {"issues": page, "isLast": last}
        if not last:
            body["nextPageToken"] = str(start + size)
        return _json(body)


def _jira_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def adf(*paragraphs: list[str]) -> dict[str, Any]:
    """An Atlassian Document Format document; each paragraph's text split across nodes."""
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": part} for part in parts]}
        for parts in paragraphs]}
