"""`python -m bench`: build the data set, start the servers, run every workload on each, report."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench import dataset, memory, report, servers
from bench.errors import BenchError
from bench.peers import PEERS
from bench.plan import Plan, plan_for
from bench.workloads import check_same_tree, workloads


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    plan = plan_for(args.quick, args.scale, args.concurrency)
    workdir = Path(tempfile.mkdtemp(prefix="davportal-bench-"))
    running: list[servers.Server] = []
    try:
        run = _run(plan, args.threads, workdir, running)
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
    report.print_report(run)
    if args.json:
        report.write_json(args.json, run)
    return 0


def _run(plan: Plan, threads: int, workdir: Path, running: list[servers.Server]) -> report.Run:
    """Everything that needs the servers; `running` collects them so the caller always stops them."""
    _progress("building the data set and provisioning the portal")
    portal_storage = workdir / "portal-files"
    config_path = servers.provision_portal(workdir, portal_storage, threads)
    dataset.write_client_data(portal_storage, plan.huge_size)
    plain_root = dataset.copy_tree(portal_storage, workdir / "wsgidav-files")
    peer_roots, skipped = [], {}
    for peer in PEERS:
        if reason := peer.missing():
            _progress(f"skipping {peer.name}: {reason}")
            skipped[peer.name] = reason
        else:
            peer_roots.append((peer, dataset.copy_tree(portal_storage, workdir / f"{peer.name}-files")))

    _progress("starting the servers")
    plain = servers.start_wsgidav(workdir, plain_root, threads)
    running.append(plain)
    portal = servers.start_portal(workdir, config_path)
    running.append(portal)
    for peer, root in peer_roots:
        running.append(peer.start(workdir, root))
    for server in running:
        check_same_tree(server)

    results = []
    for name, workload in workloads(plan).items():
        # Every server back to back, so a change in the machine's load hits them alike.
        for server in running:
            _progress(f"{name} on {server.name}")
            results.append(workload(server, plan, name))
    peak_rss_kib = {server.name: server.peak_rss_kib() for server in running}

    upload_memory = {}
    for server in (plain, portal):
        _progress(f"{memory.name(plan)} on {server.name}")
        upload_memory[server.name] = memory.uploads_at_once(server, plan)
    return report.Run(plan, results, peak_rss_kib, upload_memory, skipped)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Compare the portal with plain WsgiDAV (and rclone and nginx, where installed) "
        "serving an identical tree.",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument(
        "--scale",
        type=_positive(float),
        help="multiply the number of requests and PUT files (default 1.0, or 0.02 with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: small scale, a 2 MiB huge file instead of 100 MiB, 2 writers instead of 8",
    )
    parser.add_argument(
        "--threads",
        type=_positive(int),
        default=10,
        help="server threads, the same for the portal and plain WsgiDAV (default 10)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive(int),
        default=4,
        help="concurrent client connections for the read workloads (default 4)",
    )
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
