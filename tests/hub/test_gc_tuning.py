"""The hub process freezes what startup made and collects young objects less often.

Run in a fresh interpreter: freezing is for the whole process, and the test
process's own objects must not be frozen.
"""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import gc
from hub.gc_tuning import YOUNG_THRESHOLD, settle_after_startup

before = gc.get_threshold()
startup = [[n] for n in range(1000)]  # tracked containers made during startup
settle_after_startup()
frozen = gc.get_freeze_count()
assert frozen >= 1000, frozen
assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2]), gc.get_threshold()
assert gc.get_count()[2] == 0  # nothing left for a full pass to rescan
later = [[n] for n in range(100)]
gc.collect()
assert gc.get_freeze_count() == frozen  # what comes later is collected as usual
print("ok")
"""


def test_settling_freezes_what_startup_made_and_raises_the_young_threshold() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
