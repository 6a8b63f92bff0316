"""The bench runs end to end in its quick form; its timings are measured, never asserted."""

import json
import subprocess
import sys
from pathlib import Path

from bench.plan import plan_for
from bench.workloads import workloads

REPO_ROOT = Path(__file__).resolve().parents[1]
QUICK = plan_for(quick=True, scale=None, concurrency=4)


def test_bench_runs_every_workload_on_the_portal_and_plain_wsgidav(tmp_path):
    out = tmp_path / "out.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    document = json.loads(out.read_text())
    measured = {(r["workload"], r["server"]): r for r in document["results"]}
    for workload in workloads(QUICK):
        for server in ("portal", "wsgidav"):
            assert measured[workload, server]["rps"] > 0
            assert measured[workload, server].get("mb_per_s", 1) > 0
    upload_memory = document["upload_memory"]["servers"]
    for server in ("portal", "wsgidav"):
        assert upload_memory[server]["peak_rss_kib"] > 0
        assert upload_memory[server]["mb_per_s"] > 0
