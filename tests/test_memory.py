"""What a serving process holds: memory is counted in bytes, here and in `python -m bench`."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2
import requests
import yaml

from davportal.core.db import head_revision
from davportal.services.passwords import UNKNOWN_LOGIN_HASH, hash_secret
from tests.test_entry_points import Process, _console, _provision


def test_the_unknown_login_hash_costs_what_a_real_one_costs():
    # Same parameters, same time and memory: an unknown login is not told apart by its answer's delay.
    assert argon2.extract_parameters(UNKNOWN_LOGIN_HASH) == argon2.extract_parameters(hash_secret("p" * 12))


def test_the_head_revision_is_alembics():
    from alembic.script import ScriptDirectory

    from davportal.core.db import migration_config

    assert head_revision() == ScriptDirectory.from_config(migration_config(None)).get_current_head()


MIB = 1024 * 1024
IDLE_LIMIT = {"sqlite": 80 * MIB, "postgresql": 90 * MIB}  # psycopg and its libpq take about 10 MiB
PEAK_LIMIT = 160 * MIB  # measured 150.1 MiB with document requests (149.4 before them)


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def test_a_portal_on_an_up_to_date_database_does_not_load_alembic(fresh_database_url, tmp_path):
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {"database_url": fresh_database_url,
                                                    "storage_root": str(tmp_path / "files")}}))  # fmt: skip
    _provision(config, tmp_path)  # `init` brought the schema up to date
    script = ("import sys, yaml; from davportal.app import make_app; make_app(yaml.safe_load(open(sys.argv[1]))); "
              "print(sorted(m for m in sys.modules if 'alembic' in m))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script, str(config)], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"  # after what WsgiDAV logs


def test_a_serving_process_stays_small(fresh_database_url, tmp_path):
    """Idle within 80 MiB, and within 150 MiB after logins that verify passwords at once."""
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"port": 0, "logging": {"enable": False},
                                      "davportal": {"database_url": fresh_database_url,
                                                    "storage_root": str(tmp_path / "files")}}))  # fmt: skip
    _provision(config, tmp_path)
    process = Process([*_console("davportal"), "serve", "--workers", "1", "--config", str(config)], cwd=tmp_path)
    try:
        url = process.served_url()
        pid = process.proc.pid
        assert requests.request("PROPFIND", url + "/", headers={"Depth": "0"}, timeout=60).status_code == 401
        assert _kib(pid, "VmRSS") <= IDLE_LIMIT[fresh_database_url.split(":")[0].split("+")[0]]
        # Six logins at once, each with a password to verify: argon2 takes 64 MiB per verification.
        logins = [("alice", "long acme password")] + [(f"nobody{i}", "not a password") for i in range(5)]
        with ThreadPoolExecutor(len(logins)) as pool:
            statuses = list(pool.map(lambda login: requests.request("PROPFIND", url + "/acme/", auth=login,
                                                                      headers={"Depth": "0"}, timeout=120).status_code,
                                     logins))  # fmt: skip
        assert statuses == [207] + [401] * 5
        assert _kib(pid, "VmHWM") <= PEAK_LIMIT
    finally:
        process.stop()
