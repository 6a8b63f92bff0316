"""The bench runs end to end at a tiny scale; its timings are measured, never asserted."""

import json
import subprocess
import sys
from pathlib import Path

from bench.load import WORKLOADS

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_bench_runs_every_workload_on_both_servers(tmp_path):
    out = tmp_path / "out.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "0.02", "--json", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    results = json.loads(out.read_text())["results"]
    measured = {(r["workload"], r["server"]): r for r in results}
    for workload in WORKLOADS:
        for server in ("portal", "wsgidav"):
            assert measured[workload, server]["rps"] > 0
