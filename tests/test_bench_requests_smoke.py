"""`python -m bench.requests` runs end to end at a small scale; its timings are measured, never asserted."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_requests_bench_runs_and_prints_its_table():
    """On SQLite, and on PostgreSQL too where DAVPORTAL_TEST_POSTGRES_URL is set."""
    done = subprocess.run([sys.executable, "-m", "bench.requests", "--clients", "30", "--templates", "2"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Document requests: one template for every client")
    assert lines[1].split()[:4] == ["database", "requests", "for", "30"]
    databases = ["sqlite", "postgresql"] if os.environ.get("DAVPORTAL_TEST_POSTGRES_URL") else ["sqlite"]
    assert [line.split()[0] for line in lines[2:]] == databases
    for line in lines[2:]:
        cells = line.split()
        assert cells[5] == "60"  # outstanding: 2 templates for 30 clients
        assert cells[-1] == "1"  # one statement a page
    assert "bench: sqlite: importing 30 clients" in done.stderr
