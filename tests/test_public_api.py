"""The curated public API and the docs that must not drift."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import trilink
from trilink.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_all_is_sorted_and_importable() -> None:
    names = list(trilink.__all__)
    assert names == sorted(
        names, key=lambda n: (not n.isupper(), n.lower() if not n.isupper() else n)
    ) or names == sorted(names)
    for name in names:
        assert hasattr(trilink, name), name


def test_every_module_declares_all() -> None:
    missing = []
    for mod in pkgutil.walk_packages(trilink.__path__, "trilink."):
        if mod.name.endswith("__main__"):
            continue
        module = importlib.import_module(mod.name)
        if not hasattr(module, "__all__"):
            missing.append(mod.name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{mod.name}.__all__ names missing {name}"
    assert missing == []


def test_readme_documents_the_two_commands_and_every_demo_option() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    demo = next(c for c in app.registered_commands if c.name in (None, "demo"))
    params = demo.callback.__annotations__  # type: ignore[union-attr]
    options = re.findall(r"`(--[a-z-]+)", readme)
    for name in params:
        if name in ("return", "quiet"):
            continue
        flag = "--json" if name == "json_out" else "--" + name.replace("_", "-")
        assert flag in options, f"{flag} is not documented in README.md"
