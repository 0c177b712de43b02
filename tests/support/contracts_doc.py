"""docs/architecture.md's list of import contracts, made from pyproject.toml.

The contracts in ``[tool.importlinter]`` are what ``lint-imports`` enforces; the
architecture page shows them between two markers, and tests/test_docs.py fails when the
page and pyproject.toml disagree. ``python -m tests.support.contracts_doc`` rewrites it.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- contracts: made from pyproject.toml by tests/support/contracts_doc.py -->"
END = "<!-- /contracts -->"


def contracts() -> list[dict[str, Any]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = data["tool"]["importlinter"]["contracts"]
    return found


def _names(modules: list[str]) -> str:
    return ", ".join(f"`{m}`" for m in modules)


def _line(contract: dict[str, Any]) -> str:
    kind = contract["type"]
    if kind == "forbidden":
        forbidden = contract["forbidden_modules"]
        parents = {m.rsplit(".", 1)[0] for m in forbidden}
        # A long list of one package's parts reads as what it is: the rest of that package.
        listed = (
            f"any other part of `{parents.pop()}` ({len(forbidden)} named in pyproject.toml)"
            if len(forbidden) > 8 and len(parents) == 1
            else _names(forbidden)
        )
        rule = f"{_names(contract['source_modules'])} must not import {listed}"
    elif kind == "layers":
        rule = "layers, top to bottom: " + " → ".join(f"`{layer}`" for layer in contract["layers"])
        if contract.get("containers"):
            rule += f" (inside {_names(contract['containers'])})"
    elif kind == "acyclic_siblings":
        rule = (
            f"inside {_names(sorted(contract['ancestors']))}, no folder or module imports "
            "its siblings in a cycle"
        )
    elif kind == "independence":
        rule = f"{_names(contract['modules'])} import none of each other"
    else:
        rule = f"a `{kind}` contract"
    exceptions = contract.get("ignore_imports", [])
    if exceptions:
        rule += "; except " + _names(exceptions)
    return f"- **{contract['name']}**: {rule}."


def section() -> str:
    lines = [BEGIN, *(_line(c) for c in contracts()), END]
    return "\n".join(lines)


def current() -> str:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        return ""
    return text[start : end + len(END)]


def write() -> None:
    text = DOC.read_text(encoding="utf-8")
    old = current()
    if not old:
        raise SystemExit(f"{DOC} has no contracts section between {BEGIN!r} and {END!r}")
    DOC.write_text(text.replace(old, section()), encoding="utf-8")


if __name__ == "__main__":
    write()
    sys.stdout.write(f"rewrote the contracts section of {DOC}\n")
