"""`python -m bench.provisioning`: import 10,000 clients, then push an 8-folder template to all.

Runs the real `davportal` commands (as an admin would) against SQLite and, when a URL is given
(`--postgres URL` or DAVPORTAL_TEST_POSTGRES_URL), PostgreSQL, and prints how long each took.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

FOLDERS = ["Correspondence", "Court documents", "Court documents/Drafts", "Contracts", "Billing",
           "Team's shared/Orders", "Client's shared/Disclosure", "Client's shared/Identity"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.provisioning", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("DAVPORTAL_TEST_POSTGRES_URL"),
                        help="PostgreSQL URL to measure too (a schema of its own is made and dropped)")  # fmt: skip
    args = parser.parse_args(argv)
    rows = []
    for backend in ["sqlite", "postgresql"] if args.postgres else ["sqlite"]:
        workdir = Path(tempfile.mkdtemp(prefix="davportal-provisioning-"))
        try:
            with _database(backend, workdir, args.postgres) as url:
                rows.append((backend, *_run(workdir, url, args.clients)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'database':<12}{'import ' + format(args.clients, ',') + ' clients':>26}{'push 8 folders to all':>26}"
          f"{'push again (nothing to do)':>30}")  # fmt: skip
    for backend, imported, pushed, again in rows:
        print(f"{backend:<12}{imported:>25.1f}s{pushed:>25.1f}s{again:>29.1f}s")
    return 0


def _run(workdir: Path, url: str, count: int) -> tuple[float, float, float]:
    templates = workdir / "types.yaml"
    templates.write_text(yaml.safe_dump({"matter_types": {"litigation": {"name": "Litigation", "folders": []}}}))
    config = workdir / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {"database_url": url, "storage_root": str(workdir / "files"),
                                                    "matter_types_file": str(templates)}}))  # fmt: skip
    csv = workdir / "clients.csv"
    csv.write_text("id,name,matter_type,contact_login,contact_email\n" + "".join(
        f"c{n:05},Client {n},litigation,contact{n:05},contact{n:05}@example.com\n" for n in range(count)))  # fmt: skip
    imported = _timed(config, "client", "import", str(csv))
    templates.write_text(yaml.safe_dump({"matter_types": {"litigation": {
        "name": "Litigation", "folders": [{"path": f} for f in FOLDERS]}}}))  # fmt: skip
    pushed = _timed(config, "matter-type", "push", "litigation")
    again = _timed(config, "matter-type", "push", "litigation")
    return imported, pushed, again


def _timed(config: Path, *args: str) -> float:
    davportal = Path(sys.executable).parent / "davportal"
    start = time.perf_counter()
    subprocess.run([str(davportal), *args, "--config", str(config)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


class _database:
    def __init__(self, backend: str, workdir: Path, postgres: str | None):
        self.backend, self.workdir, self.postgres = backend, workdir, postgres
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir}/portal.db"
        self.admin = create_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {self.schema}"))
        joiner = "&" if "?" in self.postgres else "?"
        return f"{self.postgres}{joiner}options=-csearch_path%3D{self.schema}"

    def __exit__(self, *exc):
        if self.backend != "sqlite":
            with self.admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))
            self.admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
