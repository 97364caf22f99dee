"""Loading a script of examples/ as a module (examples/ is not a package), for the tests that run one."""

from __future__ import annotations

import importlib.util
import pathlib
from types import ModuleType

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str, alias: str | None = None) -> ModuleType:
    """``examples/<name>.py``, executed afresh as a module called ``alias`` (default: ``name``)."""
    spec = importlib.util.spec_from_file_location(alias or name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"no example {name!r} in {EXAMPLES}"
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
