"""A deployment's install has no demo extra: the hub, the edge and the API run without
amqtt (the demo's embedded broker), and the demo says what to install.

The subprocesses hide amqtt from the import system, as an install without
``community-hub[demo]`` would.
"""

from __future__ import annotations

import subprocess
import sys

# None in sys.modules: importing it fails, and find_spec says it is not installed.
_HIDE_AMQTT = "import sys\nsys.modules['amqtt'] = None\n"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _HIDE_AMQTT + code], capture_output=True, text=True, timeout=120
    )


def test_hub_edge_and_api_import_without_the_demo_extra() -> None:
    done = _run(
        "import api.app, api.workers, edge.gateway, hub.runtime, hub.cli, hub.broker.mosquitto\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('amqtt') is None\n"
        "print('ok')"
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_demo_without_its_extra_says_what_to_install() -> None:
    done = _run("from hub.cli import main\nraise SystemExit(main(['demo']))")
    assert done.returncode != 0
    assert "pip install 'community-hub[demo]'" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
