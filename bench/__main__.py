"""`python -m bench`: build the data set, start both servers, run every workload on each, report."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench import dataset, report, servers
from bench.errors import BenchError
from bench.load import WORKLOADS


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    workdir = Path(tempfile.mkdtemp(prefix="davportal-bench-"))
    running: list[servers.Server] = []
    try:
        results, peak_rss_kib = _run(args, workdir, running)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in running:
            server.stop()
        if args.keep:
            print(f"bench: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.print_table(results, peak_rss_kib)
    if args.json:
        report.write_json(args.json, results, peak_rss_kib)
    return 0


def _run(args: argparse.Namespace, workdir: Path, running: list[servers.Server]):
    """Everything that needs the servers; `running` collects them so the caller always stops them."""
    _progress("building the data set and provisioning the portal")
    portal_storage = workdir / "portal-files"
    config_path = servers.provision_portal(workdir, portal_storage, args.threads)
    dataset.write_client_data(portal_storage)
    plain_root = dataset.copy_tree(portal_storage, workdir / "wsgidav-files")

    _progress("starting the servers")
    running.append(servers.start_wsgidav(workdir, plain_root, args.threads))
    running.append(servers.start_portal(workdir, config_path))

    results = []
    for name, workload in WORKLOADS.items():
        # Both servers back to back, so a change in the machine's load hits them alike.
        for server in running:
            _progress(f"{name} on {server.name}")
            results.append(workload(server, args.scale, args.concurrency))
    return results, {server.name: server.peak_rss_kib() for server in running}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Compare the portal with plain WsgiDAV serving an identical tree.",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--scale", type=_positive(float), default=1.0,
                        help="multiply the number of requests and PUT files (default 1.0)")
    parser.add_argument("--threads", type=_positive(int), default=10,
                        help="server threads, the same for both servers (default 10)")
    parser.add_argument("--concurrency", type=_positive(int), default=4,
                        help="concurrent client connections for the read workloads (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (configs, logs, trees)")
    return parser.parse_args(argv)  # fmt: skip


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def _progress(message: str) -> None:
    # Progress on stderr: stdout carries only the table.
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
