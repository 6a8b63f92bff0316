"""Scanning uploads with ClamAV's daemon (clamd) before they become visible to anyone.

Speaks clamd's INSTREAM protocol over its socket (a Unix socket path, or tcp://host:port),
streaming the file in blocks: nothing is held in memory whole.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from davportal.core.errors import NotAllowed, PortalError
from davportal.core.settings import Antivirus

CHUNK = 256 * 1024


class ScannerUnavailable(PortalError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


@dataclass(frozen=True)
class Verdict:
    clean: bool
    signature: str | None = None


class Infected(NotAllowed):
    def __init__(self, name: str, signature: str):
        super().__init__(f"'{name}' contains a virus ({signature}) and was not stored. "
                         "The firm has been told; please check your computer.")  # fmt: skip
        self.signature = signature


class Clamd:
    def __init__(self, settings: Antivirus):
        self.settings = settings
        self.scans = 0  # files scanned: counted, so tests can see every upload went through

    def scan(self, path: Path) -> Verdict:
        self.scans += 1
        try:
            with self._connect() as sock, open(path, "rb") as fh:
                sock.sendall(b"zINSTREAM\0")
                while chunk := fh.read(CHUNK):
                    sock.sendall(struct.pack("!L", len(chunk)) + chunk)
                sock.sendall(struct.pack("!L", 0))
                answer = b""
                while not answer.endswith(b"\0"):
                    data = sock.recv(4096)
                    if not data:
                        break
                    answer += data
        except OSError as exc:
            raise ScannerUnavailable("The virus scanner is not available right now: please try again later.",
                                     detail=str(exc), headers=(("Retry-After", "60"),)) from None  # fmt: skip
        text = answer.rstrip(b"\0").decode("utf-8", "replace")
        if text.endswith("FOUND"):
            return Verdict(False, text.removeprefix("stream: ").removesuffix(" FOUND").strip())
        if text.endswith("OK"):
            return Verdict(True)
        raise ScannerUnavailable("The virus scanner could not check this file: please try again later.", detail=text)

    def _connect(self) -> socket.socket:
        address = self.settings.clamd_socket
        assert address is not None  # a Clamd is made only when a socket is set (Portal)
        if address.startswith("tcp://"):
            host, _, port = address.removeprefix("tcp://").rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=self.settings.timeout_seconds)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.settings.timeout_seconds)
            sock.connect(address)
        return sock
