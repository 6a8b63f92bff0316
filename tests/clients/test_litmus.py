"""litmus, the WebDAV conformance suite, as staff in a private folder.

litmus uploads files without extensions, so the file-type list is switched off for this portal
(`uploads.allowed_extensions: ["*"]`); every other rule applies.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.clients.conftest import require
from tests.conftest import PASSWORD

SUITES = ["basic", "copymove", "props", "locks", "http"]


@pytest.fixture(scope="module")
def litmus_portal(database_url, tmp_path_factory):
    from tests.conftest import portal_config, start_portal

    running = start_portal(portal_config(database_url, tmp_path_factory.mktemp("storage"),
                                         uploads={"allowed_extensions": ["*"]}))  # fmt: skip
    try:
        running.add_staff("litmus")
        running.add_client("acme")
        assert running.as_user("litmus").request("MKCOL", "/acme/Conformance/").status_code == 201
        yield running
    finally:
        running.server.stop()
        running.portal.engine.dispose()


@pytest.mark.parametrize("suite", SUITES)
def test_litmus_suite(litmus_portal, suite, tmp_path):
    litmus = require("litmus")
    result = subprocess.run(
        [litmus, f"{litmus_portal.url}/acme/Conformance/", "litmus", PASSWORD],
        env={"TESTS": suite, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    summary = re.search(rf"summary for `{suite}': of (\d+) tests run: (\d+) passed, (\d+) failed", result.stdout)
    assert summary, result.stdout + result.stderr
    run, passed, failed = map(int, summary.groups())
    assert failed == 0 and passed == run, result.stdout
    assert "WARNING" not in result.stdout, result.stdout
    assert result.returncode == 0
