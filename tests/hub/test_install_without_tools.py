"""A deployment's install has no tools: the hub, the edge and the API run without
community-hub-tools (the demo, simulators, benchmarks) or what only they need (amqtt),
and the tools' subcommands say what to install. (aiohttp is no longer the tools' alone:
pywebpush, the hub's Web Push, requires it.)

The subprocesses hide those packages from the import system; the tools' entry points
stay registered, as after a half-removed install. tests/docker installs the product's
wheel alone and runs the same command there.
"""

from __future__ import annotations

import subprocess
import sys

# None in sys.modules: importing it fails, and find_spec says it is not installed.
_HIDE_TOOLS = (
    "import sys\nfor name in ('community_hub_tools', 'amqtt'):\n    sys.modules[name] = None\n"
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _HIDE_TOOLS + code], capture_output=True, text=True, timeout=120
    )


def test_hub_edge_and_api_import_without_the_tools() -> None:
    done = _run(
        "import api.app, api.workers, edge.gateway, hub.runtime, hub.cli\n"
        "from hub.cli import build_parser\n"
        "build_parser()\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('amqtt') is None\n"
        "print('ok')"
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_demo_without_the_tools_says_what_to_install() -> None:
    done = _run("from hub.cli import main\nraise SystemExit(main(['demo']))")
    assert done.returncode == 2
    assert "pip install 'community-hub[demo]'" in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
