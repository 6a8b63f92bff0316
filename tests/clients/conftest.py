"""Real WebDAV clients (litmus, rclone, cadaver) against a real server."""

from __future__ import annotations

import shutil

import pytest


def require(tool: str) -> str:
    """The path of a Debian-packaged client; the suite fails, not skips, when it is missing."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: `apt-get install {tool}` (.ci/run does this)", pytrace=False)
    return path
