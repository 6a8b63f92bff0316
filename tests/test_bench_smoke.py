"""The bench runs end to end in its quick form; its timings are measured, never asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.workloads import NAMES

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("DAVPORTAL_TEST_POSTGRES_URL")


def _bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out), *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def test_bench_runs_every_workload_on_every_server(tmp_path):
    """SQLite only, to stay short: the PostgreSQL path has its own test below."""
    document = _bench(tmp_path, "--database", "sqlite")

    measured = {(r["workload"], r["server"]): r for r in document["results"]}
    servers = {"wsgidav", "portal", "portal-n", "apache", "nginx", "rclone"} - set(document["skipped"])
    assert {"wsgidav", "portal", "portal-n"} <= servers
    for workload in NAMES:
        for server in servers:
            result = measured[workload, server]
            assert result["rps"] > 0
            assert result.get("mb_per_s", 1) > 0
            assert result["server_cpu_ms_per_unit"] >= 0
    assert set(document["ratios"]["sqlite"]) == {"portal", "portal-n"}
    memory = document["memory"]
    assert memory["portal-n (sqlite)"]["idle"]["processes"] == 1 + (os.cpu_count() or 1)
    for label in ("wsgidav", "portal (sqlite)", "portal-n (sqlite)"):
        assert memory[label]["idle"]["total_kib"] > 0
        assert memory[label]["uploads_at_once"]["peak_rss"]["total_kib"] > 0
        assert memory[label]["uploads_at_once"]["mb_per_s"] > 0


@pytest.mark.skipif(not POSTGRES_URL, reason="DAVPORTAL_TEST_POSTGRES_URL is not set")
def test_bench_runs_the_portal_on_postgresql_in_databases_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("DAVPORTAL_BENCH_POSTGRES_URL", POSTGRES_URL)
    document = _bench(tmp_path, "--database", "postgresql", "--servers", "wsgidav,portal",
                      "--only", "propfind-depth0,put-10kib")  # fmt: skip

    assert {(r["workload"], r["server"], r["database"]) for r in document["results"]} == {
        ("propfind-depth0", "wsgidav", None), ("propfind-depth0", "portal", "postgresql"),
        ("put-10kib", "wsgidav", None), ("put-10kib", "portal", "postgresql"),
    }  # fmt: skip
    made = document["postgresql_databases"]
    assert len(made) == 1
    engine = create_engine(POSTGRES_URL)
    with engine.connect() as connection:
        left = connection.execute(text("SELECT datname FROM pg_database WHERE datname = ANY(:made)"), {"made": made})
        assert left.all() == []
    engine.dispose()
