"""`python -m bench`: build the data set, start the servers, run every workload on each, report."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from bench import dataset, memory, report, servers
from bench.databases import DATABASES, POSTGRES_ENV, Databases, postgres_unreachable, postgres_url
from bench.errors import BenchError
from bench.peers import PEERS
from bench.plan import Plan, plan_for
from bench.workloads import NAMES, Workload, check_same_tree, warm_up, workloads

UPLOADS_AT_ONCE = "uploads-at-once"  # the memory test, as --only names it
SERVERS = ["wsgidav", "portal", "portal-n", *(peer.name for peer in PEERS)]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    plan = plan_for(args.quick, args.scale, args.concurrency)
    workdir = Path(tempfile.mkdtemp(prefix="davportal-bench-"))
    databases = Databases(workdir, postgres_url())
    running: list[servers.Server] = []
    try:
        run = _run(args, plan, workdir, databases, running)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in running:
            server.stop()
        databases.drop()
        if args.keep:
            print(f"bench: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.print_report(run)
    if args.json:
        report.write_json(args.json, run)
    return 0


def _run(args: argparse.Namespace, plan: Plan, workdir: Path, databases: Databases,
         running: list[servers.Server]) -> report.Run:  # fmt: skip
    """Everything that needs the servers; `running` collects them so the caller always stops them."""
    chosen = [w for w in workloads(plan) if w.name in args.only]
    skipped: dict[str, str] = {}
    portal_databases = _portal_databases(args, databases.postgres, skipped)

    _progress("building the data set and provisioning the portals")
    source = workdir / "dataset"
    dataset.write_client_data(source, plan.huge_size)
    portals = _provision_portals(args, portal_databases, source, workdir, databases)
    plain_root = dataset.copy_tree(source, workdir / "wsgidav-files") if "wsgidav" in args.servers else None
    peer_roots = []
    for peer in (p for p in PEERS if p.name in args.servers):
        if reason := peer.missing():
            _progress(f"skipping {peer.name}: {reason}")
            skipped[peer.name] = reason
        else:
            peer_roots.append((peer, dataset.copy_tree(source, workdir / f"{peer.name}-files")))
    shutil.rmtree(source)

    _progress("starting the servers")
    if plain_root:
        running.append(servers.start_wsgidav(workdir, plain_root, args.threads))
    for name, database, workers, config in portals:
        running.append(servers.start_portal(workdir, config, name, database, workers))
    for peer, root in peer_roots:
        running.append(peer.start(workdir, root))
    idle = {}
    for server in running:
        check_same_tree(server)
        warm_up(server, plan)
        idle[server.label] = server.memory("VmRSS")

    results = []
    for workload in chosen:
        # Every server back to back, so a change in the machine's load hits them alike.
        for server in running:
            _progress(f"{workload.name} on {server.label}")
            results.append(_measured(workload, server, plan))
    usage = {server.label: memory.ServerMemory(idle[server.label], server.memory("VmHWM")) for server in running}
    if UPLOADS_AT_ONCE in args.only:
        for server in running:
            _progress(f"{memory.name(plan)} on {server.label}")
            usage[server.label] = replace(usage[server.label], uploads=memory.uploads_at_once(server, plan))
    titles = {w.name: w.title for w in chosen}
    return report.Run(plan, args.workers, titles, results, usage, skipped, list(databases.created))


def _provision_portals(args: argparse.Namespace, portal_databases: list[str], source: Path, workdir: Path,
                       databases: Databases) -> list[tuple[str, str, int, Path]]:  # fmt: skip
    """Each portal's config, database and storage holding the data set: (name, database, workers, config).

    One database after another would double the wait: each is provisioned by several `davportal` runs.
    """

    def on(database: str) -> list[tuple[str, str, int, Path]]:
        portals = []
        provisioned = None  # the first portal on this database: the others start from a copy of it
        for name, workers in (("portal", 1), ("portal-n", args.workers)):
            if name not in args.servers:
                continue
            label = f"{name}-{database}"
            url = databases.url(database, label, copy_of=provisioned and provisioned.stem)
            config = servers.portal_config(workdir, label, url, args.threads)
            if provisioned:
                dataset.copy_tree(servers.portal_storage(provisioned), servers.portal_storage(config))
            else:
                servers.provision_portal(config)
                dataset.copy_tree(source, servers.portal_storage(config))
                provisioned = config
            portals.append((name, database, workers, config))
        return portals

    with ThreadPoolExecutor(max(1, len(portal_databases))) as pool:
        return [portal for portals in pool.map(on, portal_databases) for portal in portals]


def _measured(workload: Workload, server: servers.Server, plan: Plan):
    """The workload's result with the CPU time the server's processes spent meanwhile."""
    before = server.cpu_seconds()
    result = workload.run(server, plan, workload.name)
    return replace(result, server_cpu_seconds=server.cpu_seconds() - before)


def _portal_databases(args: argparse.Namespace, postgres: str, skipped: dict[str, str]) -> list[str]:
    """The databases the portal runs on: PostgreSQL by default only where it answers; asked for, it must."""
    if not {"portal", "portal-n"} & set(args.servers):
        return []
    wanted = list(DATABASES) if args.database in (None, "both") else [args.database]
    if "postgresql" in wanted and (reason := postgres_unreachable(postgres)):
        if args.database is not None:
            raise BenchError(reason)
        _progress(f"skipping PostgreSQL: {reason}")
        skipped["postgresql"] = reason
        wanted.remove("postgresql")
    return wanted


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Compare the portal (one process and --workers processes, on SQLite and PostgreSQL) with "
        "plain WsgiDAV and, where installed, Apache mod_dav, nginx dav-ext and rclone, serving identical trees.",
        epilog="\n".join(
            textwrap.fill(paragraph, break_on_hyphens=False)
            for paragraph in (
                f"Workloads, for --only: {', '.join([*NAMES, UPLOADS_AT_ONCE])}.",
                f"Servers, for --servers: {', '.join(SERVERS)}.",
                f"PostgreSQL: ${POSTGRES_ENV} (default {postgres_url()}); the bench creates databases of its "
                "own there and drops them.",
            )
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        help="server threads per process, the same for the portal and plain WsgiDAV (default 10)",
    )
    parser.add_argument(
        "--workers",
        type=_positive(int),
        default=os.cpu_count() or 1,
        help=f"processes of the portal-n server (default: the number of cores, {os.cpu_count()})",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive(int),
        default=4,
        help="concurrent client connections for the small requests and listings (default 4)",
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql", "both"],
        help="the portal's database (default: both where PostgreSQL answers, else sqlite)",
    )
    parser.add_argument("--only", type=_names(NAMES + [UPLOADS_AT_ONCE]), default=NAMES + [UPLOADS_AT_ONCE],
                        metavar="WORKLOAD,...", help="run only these workloads (names below)")  # fmt: skip
    parser.add_argument("--servers", type=_names(SERVERS), default=SERVERS, metavar="NAME,...",
                        help="run only these servers (names below)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (configs, logs, trees)")
    return parser.parse_args(argv)  # fmt: skip


def _names(known: list[str]):
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        if unknown := [name for name in names if name not in known]:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(unknown)} (known: {', '.join(known)})")
        return names

    parse.__name__ = "list"
    return parse


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def _progress(message: str) -> None:
    # Progress on stderr: stdout carries only the tables.
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
