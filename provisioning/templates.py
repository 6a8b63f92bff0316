"""Giving clients their matter type's folders: never deleting, renaming or overwriting anything."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from davportal.core.models import Client, ProvisionedFolder
from davportal.core.storage import Storage
from davportal.services import audit
from policy import Actor, Target
from provisioning.matter_types import MatterType, PushRecord

BATCH = 500  # clients per transaction: an interrupted push loses at most this much bookkeeping


@dataclass
class ClientReport:
    client_id: str
    created: list[str] = field(default_factory=list)
    existed: list[str] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (folder, why it was left alone)

    def summary(self) -> str:
        parts = [f"created {', '.join(self.created)}" if self.created else "nothing to create"]
        if self.existed:
            parts.append(f"{len(self.existed)} already there")
        parts += [f"CONFLICT {folder}: {why}" for folder, why in self.conflicts]
        return f"{self.client_id}: " + "; ".join(parts)


def apply_template(storage: Storage, client_id: str, matter_type: MatterType, provisioned: set[str], *,
                   dry_run: bool) -> ClientReport:  # fmt: skip
    """Create the folders of the template that the client lacks; report the rest."""
    report = ClientReport(client_id)
    blocked: list[str] = []
    for folder in matter_type.folders:
        disk = storage.path_of((client_id, *folder.split("/")))
        if any(folder.startswith(b + "/") for b in blocked):
            report.conflicts.append((folder, "its parent folder is not there"))
            continue
        try:
            st = os.lstat(disk)
        except FileNotFoundError:
            st = None
        if st is not None and disk.is_dir() and not disk.is_symlink():
            report.existed.append(folder)
        elif st is not None:
            report.conflicts.append((folder, "a file is where the folder should be"))
            blocked.append(folder)
        elif folder in provisioned:
            report.conflicts.append((folder, "it was created before and is gone: renamed or removed by staff"))
            blocked.append(folder)
        else:
            if not dry_run:
                disk.mkdir()
            report.created.append(folder)
    return report


def provisioned_of(session: Session, client_ids: list[str]) -> dict[str, set[str]]:
    rows = session.execute(select(ProvisionedFolder.client_id, ProvisionedFolder.path)
                           .where(ProvisionedFolder.client_id.in_(client_ids)))  # fmt: skip
    found: dict[str, set[str]] = {client_id: set() for client_id in client_ids}
    for client_id, path in rows:
        found[client_id].add(path)
    return found


def remember(session: Session, report: ClientReport, provisioned: set[str]) -> None:
    """Record the template's folders that are there, so that a later rename shows as a conflict."""
    session.add_all(ProvisionedFolder(client_id=report.client_id, path=path)
                    for path in (*report.created, *report.existed) if path not in provisioned)  # fmt: skip


def give_folders(session: Session, storage: Storage, client_id: str, matter_type: MatterType) -> ClientReport:
    """One client (client add, client set-type), in the caller's transaction."""
    provisioned = provisioned_of(session, [client_id])[client_id]
    report = apply_template(storage, client_id, matter_type, provisioned, dry_run=False)
    remember(session, report, provisioned)
    return report


@dataclass
class Push:
    reports: list[ClientReport] = field(default_factory=list)
    unrecorded: str = ""  # why the rules pushed could not be recorded, when they could not

    @property
    def created(self) -> int:
        return sum(len(report.created) for report in self.reports)

    @property
    def conflicts(self) -> list[tuple[str, str, str]]:
        """(client id, folder, why it was left alone) for every folder left alone."""
        return [(report.client_id, folder, why) for report in self.reports for folder, why in report.conflicts]


def push(sessions: sessionmaker[Session], storage: Storage, matter_type: MatterType, *, dry_run: bool,
         actor: Actor, record: PushRecord, on_client=lambda report: None) -> Push:  # fmt: skip
    """Every client of the type gets the folders it lacks, a batch of clients per transaction.

    A real push is audited and its rules recorded, for the next push to say what changed since.
    """
    with sessions() as session:
        client_ids = list(session.scalars(
            select(Client.id).where(Client.matter_type == matter_type.id).order_by(Client.id)))  # fmt: skip
    done = Push()
    for start in range(0, len(client_ids), BATCH):
        batch = client_ids[start : start + BATCH]
        with sessions.begin() as session:
            provisioned = provisioned_of(session, batch)
            for client_id in batch:
                report = apply_template(storage, client_id, matter_type, provisioned[client_id], dry_run=dry_run)
                if not dry_run:
                    remember(session, report, provisioned[client_id])
                done.reports.append(report)
                on_client(report)
    if dry_run:
        return done
    with sessions.begin() as session:
        audit.record(session, actor, "PUSH", Target(()), f"matter type {matter_type.id}: {len(done.reports)} "
                     f"client(s), {done.created} folder(s) created, {len(done.conflicts)} conflict(s)")  # fmt: skip
    try:
        record.remember(matter_type)
    except OSError as exc:
        done.unrecorded = (f"the rules pushed could not be recorded in {record.path} ({exc.strerror}): "
                           "the next push will compare with an older record.")  # fmt: skip
    return done


def count_clients(sessions: sessionmaker[Session], matter_type: MatterType) -> int:
    with sessions() as session:
        return cast(int, session.scalar(select(func.count()).where(Client.matter_type == matter_type.id)))
