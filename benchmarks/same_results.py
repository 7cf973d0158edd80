"""Same results: every derived table of a generated org, computed by this tree and by a git ref.

    python benchmarks/same_results.py                  # against the merge base with main
    python benchmarks/same_results.py --against v0.3   # any commit, branch or tag

A speed change must not move a single value. This script generates an organisation with every
shape the delivery code handles (graph and time-mode repos, several services in one repo, path
services with and without file lists, PRs with and without their own file lists, people and
CODEOWNERS views), loads it into two fresh warehouses, runs `compute_metrics` with each version
of the code in its own process, and compares every table row by row. It prints one line per
table and exits 1 on the first difference.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402
import yaml  # noqa: E402
from polars.testing import assert_frame_equal  # noqa: E402

from pipelines.demo.generator import OrgShape, generate_org, org_config  # noqa: E402

ENTITIES = {"commits": "commits", "pull_requests": "pull_requests",
            "deployments": "deployments", "incidents": "incidents", "sli": "sli_measurements"}
CODEOWNERS = "* @acme/platform\nsrc/core/ @acme/{team}\nsrc/api/ @dana\n"


def varied_org(shape: OrgShape, folder: Path) -> Path:
    """Write the generated org, reshaped to cover every delivery case, as parquet + config."""
    frames = generate_org(shape)
    config = org_config(shape)
    services = config["services"]
    owner = {s: t["name"] for t in config["teams"] for s in t["services"]}
    commits, deps, prs = frames["commits"], frames["deployments"], frames["pull_requests"]
    time_repos = [s["repo"] for s in services[::4]]
    extra, extra_deps = [], []
    for k, svc in enumerate(services):
        if svc["repo"] in time_repos:
            continue
        if k % 3 == 1:  # a monorepo: the service and a sibling split the repo by paths
            svc["paths"] = ["src/api/**", "src/storage/**", "README.md"]
            extra.append({"name": f"{svc['name']}-core", "repo": svc["repo"],
                          "paths": ["src/core/**", "src/*/config.*"]})
        elif k % 3 == 2:  # two whole-repo services on one repo, deployed on their own
            extra.append({"name": f"{svc['name']}-mirror", "repo": svc["repo"]})
        else:
            continue
        mine = deps.filter(pl.col("service") == svc["name"])
        extra_deps.append(mine.gather_every(2, offset=k % 2).with_columns(
            pl.lit(extra[-1]["name"]).alias("service"), pl.format("{}-x", "id").alias("id"),
            pl.col("started_at") + pl.duration(hours=3),
            pl.col("finished_at") + pl.duration(hours=3)))
        owner[extra[-1]["name"]] = owner[svc["name"]]
    services += extra
    for team in config["teams"]:
        team["services"] = [s["name"] for s in services if owner[s["name"]] == team["name"]]
    path_repos = [s["repo"] for s in services if s.get("paths")]
    n = pl.int_range(pl.len())
    commits = commits.with_columns(
        pl.when(pl.col("repo").is_in(time_repos)).then(pl.lit([], pl.List(pl.String)))
        .otherwise(pl.col("parents")).alias("parents"),
        pl.when(pl.col("repo").is_in(path_repos) & (n % 10 == 3)).then(None)
        .otherwise(pl.col("files")).alias("files"))
    first_files = (prs.select("repo", "number", pl.col("commit_shas").list.first().alias("sha"))
                   .join(commits.select("repo", "sha", "files"), on=["repo", "sha"])
                   .select("repo", "number", pl.col("files").alias("pr_files")))
    prs = prs.join(first_files, on=["repo", "number"], how="left", maintain_order="left")
    prs = prs.with_columns(pl.when(n % 3 == 0).then(pl.col("pr_files")).alias("files")
                           ).drop("pr_files")
    frames.update(commits=commits, pull_requests=prs, deployments=pl.concat([deps, *extra_deps]))
    authors = prs.drop_nulls("author").group_by("repo").agg(pl.col("author").unique().sort())
    by_repo = dict(authors.iter_rows())
    for team in config["teams"]:
        repos = {s["repo"] for s in services if s["name"] in team["services"]}
        people = sorted({a for r in repos for a in by_repo.get(r, [])[:3]})
        team["members"] = [{"name": p, "from": "2025-06-01"} if i % 2 else p
                           for i, p in enumerate(people)]
    repo = services[1]["repo"]
    (folder / "CODEOWNERS").write_text(CODEOWNERS.format(team=config["teams"][0]["name"]),
                                       encoding="utf-8")
    config["codeowners"] = [{"repo": repo, "path": "CODEOWNERS",
                             "aliases": {"@dana": config["teams"][-1]["name"]}}]
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet")
    path = folder / "dora.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


CHILD = """
import sys
sys.path.insert(0, {code!r})
from pathlib import Path
import polars as pl
from metrics.schema import conform
from pipelines.build import build_canonical, compute_metrics, config_tables, write_table
from pipelines.config import load_config
from pipelines.warehouse import connect
data, out = Path({data!r}), Path({out!r})
config = load_config(data / "dora.yaml")
conn = connect(config.warehouse_path)
before = set()
try:
    build_canonical(conn, config)
    for name, entity in {entities!r}.items():
        write_table(conn, entity, conform(entity, pl.read_parquet(data / f"{{name}}.parquet")))
    for name, frame in config_tables(config).items():
        write_table(conn, name, frame)
    before = {{r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}}
finally:
    conn.close()
compute_metrics(config)
conn = connect(config.warehouse_path)
out.mkdir()
for (name,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall():
    conn.sql(f'SELECT * FROM "{{name}}"').pl().write_parquet(out / f"{{name}}.parquet")
conn.close()
"""


def compute_with(code: Path, data: Path, out: Path) -> None:
    """Run `compute_metrics` with the code tree `code` on the org in `data`."""
    work = out.parent / f"{out.name}-work"
    work.mkdir()
    for item in data.iterdir():
        (work / item.name).symlink_to(item)
    script = CHILD.format(code=str(code), data=str(work), out=str(out), entities=ENTITIES)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=code)


def export_ref(ref: str, into: Path) -> Path:
    """The `metrics`, `pipelines` and `sql` trees of git `ref`, laid out as an importable copy."""
    archive = into / "ref.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), ref,
                    "metrics", "pipelines", "sql"], check=True)
    code = into / "ref"
    with tarfile.open(archive) as tar:
        tar.extractall(code, filter="data")
    (code / "sql").rename(code / "metrics" / "sql")  # the package `metrics.sql`, as installed
    (code / "metrics" / "sql" / "__init__.py").touch()
    return code


def compare(old: Path, new: Path) -> int:
    """Print one line per table; the number of tables that differ."""
    differ = 0
    names = sorted({p.stem for folder in (old, new) for p in folder.glob("*.parquet")})
    for name in names:
        a, b = old / f"{name}.parquet", new / f"{name}.parquet"
        if not (a.exists() and b.exists()):
            print(f"MISSING  {name}: only in {'new' if b.exists() else 'reference'}")
            differ += 1
            continue
        left, right = pl.read_parquet(a), pl.read_parquet(b)
        try:
            assert_frame_equal(left, right)
            print(f"same     {name} ({left.height:,} rows)")
        except AssertionError as exc:
            print(f"DIFFERS  {name}: {str(exc).splitlines()[0]}")
            differ += 1
    return differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default=None,
                        help="git commit to compare with (default: the merge base with main)")
    parser.add_argument("--teams", type=int, default=6)
    parser.add_argument("--services", type=int, default=18)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    ref = args.against or subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], check=True, capture_output=True,
        text=True).stdout.strip()
    shape = OrgShape(teams=args.teams, services=args.services, months=args.months,
                     seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="dora-same-") as tmp:
        base = Path(tmp)
        data = base / "org"
        data.mkdir()
        varied_org(shape, data)
        compute_with(export_ref(ref, base), data, base / "reference")
        compute_with(ROOT, data, base / "new")
        print(f"reference: {ref}")
        differ = compare(base / "reference", base / "new")
    print("identical" if differ == 0 else f"{differ} table(s) differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
