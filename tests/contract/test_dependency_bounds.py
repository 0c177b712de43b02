"""pyproject.toml's lower bounds are real: at the oldest versions they allow, every module
of the four packages imports and the core tests pass.

uv installs the project with ``--resolution lowest-direct`` (each direct dependency at
its lower bound, what they need at the newest they allow) into a virtualenv of its own,
``.venv/lowest-bounds``, built again only when pyproject.toml changes. Only the product,
the postgres extra and the test runner go in: the demo extra's amqtt pins websockets and
would hide a websockets bound that is too low. Modules that need the demo extra are the
ones allowed to miss a package, and only a package an extra names.

The lock (requirements.lock) pins what the README's commands install; this test is what
keeps a bound from promising a version the code no longer runs on.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv" / "lowest-bounds"
PACKAGES = ("device_adapters", "chub_mqtt", "edge", "hub", "api")
# The test runner, at the test extra's bounds; the subset runs on two workers as
# scripts/test runs the suite, which tests pytest-xdist's bound too.
RUNNER = ("pytest", "pytest-asyncio", "hypothesis", "pytest-xdist")
# Tests that run on the minimums: the codecs, settings, storage (SQLite and PostgreSQL),
# migrations, the ingest flow, the API on httpx, the edge's HTTP and OCPP servers. No
# broker, no browser; the fuzz tests are left out (they test the codecs, not versions),
# and the property tests try few examples (the profile "few", tests/conftest.py).
SUBSET = (
    "tests/device_adapters",
    "tests/hub/test_settings.py",
    "tests/hub/test_migrations.py",
    "tests/hub/storage/test_inloop_sqlite.py",
    "tests/hub/storage/test_json_columns.py",
    "tests/hub/storage/test_utc_datetime.py",
    "tests/hub/test_ingest_flow.py",
    "tests/hub/test_logs.py",
    "tests/api/test_auth.py",
    "tests/api/test_web_hardening.py",
    "tests/edge/test_http_push.py",
    "tests/edge/test_ocpp_limits.py",
)
DESELECT = ("fuzz", "arbitrary")

# Imports every module; a module may miss only a package an optional extra names.
IMPORT_ALL = """
import importlib, pkgutil, sys
tolerated = set(sys.argv[1].split(","))
failed, skipped, count = [], [], 0
for top in sys.argv[2:]:
    package = importlib.import_module(top)
    names = [top] + [m.name for m in pkgutil.walk_packages(package.__path__, top + ".")]
    for name in names:
        count += 1
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            missing = (error.name or "").split(".")[0].replace("_", "-").lower()
            (skipped if missing in tolerated else failed).append(f"{name}: {error!r}")
        except Exception as error:
            failed.append(f"{name}: {error!r}")
print(f"{count} modules, {len(skipped)} need an extra:", *skipped, sep="\\n  ")
if failed:
    sys.exit("failed to import:\\n  " + "\\n  ".join(failed))
"""


def _project() -> dict[str, object]:
    with (REPO / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def _extras() -> dict[str, list[Requirement]]:
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)
    return {name: [Requirement(line) for line in lines] for name, lines in extras.items()}


def _runner_requirements() -> list[str]:
    test = {canonicalize_name(r.name): r for r in _extras()["test"]}
    return [str(test[name]) for name in RUNNER]


def _extras_only() -> set[str]:
    """Packages only an optional extra (not postgres, not the project itself) brings in."""
    return {
        canonicalize_name(requirement.name)
        for name, requirements in _extras().items()
        if name != "postgres"
        for requirement in requirements
        if canonicalize_name(requirement.name) != "community-hub"
    }


def _uv(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "uv", *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"uv {' '.join(args)} failed:\n{done.stdout}{done.stderr}"


def _lowest_venv() -> Path:
    """The virtualenv at the lowest bounds, built once per pyproject.toml."""
    try:
        import uv  # noqa: F401  (scripts/test's bootstrap installs it into .venv)
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip("uv is not installed in this virtualenv (scripts/test installs it)")
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + sys.version.encode()).hexdigest()
    python = VENV / "bin" / "python"
    stamp = VENV / ".pyproject-sha256"
    VENV.parent.mkdir(exist_ok=True)
    # One build at a time, should two test runs start together.
    with (VENV.parent / "lowest-bounds.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == key and python.exists()):
            stamp.unlink(missing_ok=True)
            _uv("venv", "-q", "--clear", "--python", sys.executable, str(VENV))
            _uv(
                "pip", "install", "-q", "--python", str(python),
                "--resolution", "lowest-direct",
                "-e", f"{REPO}[postgres]", *_runner_requirements(),
            )  # fmt: skip
            # The tests' fixtures seed the demo community (community_hub_tools.demo.seed),
            # which needs nothing beyond the product; the tools' own extras stay out.
            _uv("pip", "install", "-q", "--python", str(python), "--no-deps", "-e", f"{REPO}/tools")
            stamp.write_text(key)
    return python


def _run(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(python), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def lowest_python() -> Path:
    return _lowest_venv()


def test_every_module_imports_at_the_lowest_bounds(lowest_python: Path) -> None:
    done = _run(lowest_python, "-c", IMPORT_ALL, ",".join(sorted(_extras_only())), *PACKAGES)
    assert done.returncode == 0, done.stdout + done.stderr


def test_core_tests_pass_at_the_lowest_bounds(lowest_python: Path) -> None:
    done = _run(
        lowest_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
        "-n", "2", "--dist", "loadfile", "--hypothesis-profile", "few",
        "-k", " and ".join(f"not {word}" for word in DESELECT), *SUBSET,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
