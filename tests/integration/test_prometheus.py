"""The prometheus source against a real Prometheus server loaded with history by promtool, with
SLOs from the config and from OpenSLO / Sloth files."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from promkit import history, prometheus_server

from pipelines.config import DoraConfig, PrometheusSource
from pipelines.sources.incidents import openslo, prometheus

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 2, 5, 30, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).parent.parent / "slo_examples"
# Per-minute request rates in the hours 00-01, 01-02, 02-03 of 2026-03-02.
RATES = {
    ("payments", "200"): [100, 97, 99], ("payments", "500"): [0, 3, 1],
    ("search", "200"): [50, 50, 45], ("search", "500"): [0, 0, 5],
    ("checkout", "200"): [20, 20, 20], ("checkout", "500"): [0, 0, 0],
}


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory):
    with prometheus_server(tmp_path_factory.mktemp("prom"), history(T0, RATES)) as url:
        yield url


def setup(prom: str, tmp_path: Path) -> tuple[PrometheusSource, DoraConfig]:
    shutil.copytree(EXAMPLES, tmp_path / "slo")
    config = DoraConfig.model_validate({
        "services": [{"name": n, "repo": f"acme/{n}"}
                     for n in ("payments-api", "search-api", "checkout-api")],
        "slos": [{"name": "payments-api-availability", "service": "payments-api",
                  "objective": 0.99}],
        "sources": [{"kind": "prometheus", "base_url": prom, "window": "1h", "openslo": "slo",
                     "slos": [{"slo": "payments-api-availability",
                               "good": 'sum(increase(http_requests_total{job="payments",'
                                       'code!~"5.."}[1h]))',
                               "total": 'sum(increase(http_requests_total{job="payments"}'
                                        '[1h]))'}]}],
        "config_dir": tmp_path,
    })
    return config.sources[0], config


def test_sli_windows_per_slo(prom: str, tmp_path: Path) -> None:
    """Worked by hand: `increase(x[1h])` at hour h is 60 x that hour's per-minute rate.
    payments good 60*(100, 97, 99) = 6000, 5820, 5940 of 6000 each;
    search good 3000, 3000, 2700 of 3000 each (OpenSLO);
    checkout (Sloth: good = total - errors) 1200 of 1200 each.
    Windows end at 01:00, 02:00, 03:00 (before 00:00 and after 03:00 there is no data)."""
    source, config = setup(prom, tmp_path)
    result = prometheus.sync(source, "prom", config, None, NOW)
    got: dict[str, list[tuple[int, int, int]]] = {}
    for row in result.rows["sli_measurements"]:
        assert row["window_end"] - row["window_start"] == dt.timedelta(hours=1)
        got.setdefault(row["slo"], []).append(
            (row["window_end"].hour, row["good"], row["total"]))
    assert got == {
        "payments-api-availability": [(1, 6000, 6000), (2, 5820, 6000), (3, 5940, 6000)],
        "search-api-availability": [(1, 3000, 3000), (2, 3000, 3000), (3, 2700, 3000)],
        "checkout-api-requests-availability": [(1, 1200, 1200), (2, 1200, 1200),
                                               (3, 1200, 1200)],
    }
    # The rerun starts after the last whole window (05:00): nothing new before 06:30.
    again = prometheus.sync(source, "prom", config, result.cursor,
                            NOW + dt.timedelta(hours=1))
    assert again.rows == {}
    assert again.cursor == {"until": int(dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC).timestamp())}


def test_definitions_from_openslo_and_sloth_files() -> None:
    """Objective 0.95 as given (OpenSLO), 99.0 % as 0.99 (Sloth); Sloth's name is
    `<service>-<slo name>`."""
    found = {d.slo: d for d in openslo.read_definitions(EXAMPLES)}
    assert found["search-api-availability"].objective == 0.95
    assert found["search-api-availability"].service == "search-api"
    checkout = found["checkout-api-requests-availability"]
    assert checkout.objective == pytest.approx(0.99) and checkout.service == "checkout-api"
    assert openslo.with_window(checkout.total, "1h").endswith('[1h]))')


def test_a_bad_slo_file_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata:\n"
                                       "  name: x\nspec:\n  service: s\n  objectives: []\n")
    with pytest.raises(openslo.SloFileError, match=r"bad.yaml: SLO `x`: `spec.objectives`"):
        openslo.read_definitions(tmp_path)


def test_a_query_prometheus_refuses_is_one_clear_error(prom: str, tmp_path: Path) -> None:
    source, config = setup(prom, tmp_path)
    broken = source.model_copy(update={"openslo": None, "slos": [
        source.slos[0].model_copy(update={"good": "sum(rate(x[1h]"})]})
    with pytest.raises(RuntimeError, match="Prometheus refused 'sum\\(rate"):
        prometheus.sync(broken, "prom", config, None, NOW)
