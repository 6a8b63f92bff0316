"""The wheel holds the four packages and their data, and nothing of the repository besides.

Built from a copy of the source: setuptools builds in the source tree, and a `build/` left
there from an older layout would slip stale modules (a top-level `web`, say) into the wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# One worker builds the wheel once for all of these (the suite runs with --dist loadgroup).
pytestmark = pytest.mark.xdist_group("packaging")

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"davportal", "policy", "provisioning", "wsgidav_ext"}
PACKAGE_DATA = [
    "davportal/migrations/versions/0001_schema.py",
    "davportal/migrations/script.py.mako",
    "davportal/web/templates/folder.html",
    "davportal/web/static/portal.js",
    "davportal/notifications/templates/digest.txt.j2",
]
NOT_SOURCE = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "dist", "davportal-data",
                                    ".pytest_cache", ".ruff_cache", "results")  # fmt: skip


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    source = tmp_path_factory.mktemp("source") / "davportal"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation and --no-index: built offline, with the setuptools and wheel installed here.
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("davportal-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_top_level_names_are_the_four_packages(wheel_names):
    top = {name.split("/", 1)[0] for name in wheel_names}
    dist_info = {name for name in top if name.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == PACKAGES


def test_bench_stays_in_the_repository(wheel_names):
    assert not [name for name in wheel_names if name.split("/", 1)[0] in ("bench", "tests", "config", "docs")]


@pytest.mark.parametrize("path", PACKAGE_DATA)
def test_package_data_is_in_the_wheel(wheel_names, path):
    assert path in wheel_names
