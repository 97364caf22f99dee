"""Build the API reference of ``tinygrad_rnn`` from its docstrings into ``docs/api/``.

    python docs/build_api.py [--out docs/api] [--builtin]

With ``pdoc`` importable it writes pdoc's HTML; otherwise (or with ``--builtin``) a small built-in
generator walks the public modules with :mod:`inspect` and writes one Markdown file per module plus an
``index.md``. The built-in generator needs nothing beyond the standard library and the package itself.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tinygrad_rnn"


def _import_package() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(PACKAGE)


def public_modules(package: str = PACKAGE) -> list[str]:
    """Every importable module of ``package`` whose dotted name has no part starting with '_'."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    out = []
    for name in sorted(names):
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001  (an optional dependency missing: skip that module)
            print(f"build_api: skipping {name}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        out.append(name)
    return out


def _public_names(mod: Any) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(mod).items()
            if not n.startswith("_")
            and getattr(v, "__module__", None) == mod.__name__
            and (inspect.isclass(v) or inspect.isfunction(v))
        ]
    return [n for n in names if hasattr(mod, n)]


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _doc(obj: Any) -> str:
    d = inspect.getdoc(obj)
    return d.strip() if d else "*(no docstring)*"


def _fence(text: str) -> str:
    """Docstrings are reStructuredText-ish: keep their layout by quoting them as preformatted text."""
    return "```text\n" + text + "\n```\n" if text != "*(no docstring)*" else text + "\n"


def _members(cls: type) -> Iterable[tuple[str, Any]]:
    for name, value in cls.__dict__.items():
        if name.startswith("_") and name not in ("__init__", "__call__"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            yield name, value


def module_markdown(name: str) -> str:
    """Markdown for one module: its docstring, then each public class (with methods) and function."""
    mod = importlib.import_module(name)
    lines = [f"# `{name}`\n", _fence(_doc(mod)) if mod.__doc__ else ""]
    for attr in _public_names(mod):
        obj = getattr(mod, attr)
        if inspect.ismodule(obj):
            lines.append(f"- submodule [`{obj.__name__}`]({obj.__name__}.md)\n")
            continue
        if inspect.isclass(obj):
            bases = ", ".join(b.__name__ for b in obj.__bases__ if b is not object)
            lines.append(f"## class `{attr}{_signature(obj)}`" + (f" ({bases})" if bases else "") + "\n")
            if obj.__module__ != name:
                lines.append(f"*Defined in `{obj.__module__}`.*\n")
            lines.append(_fence(_doc(obj)))
            for mname, member in _members(obj):
                if isinstance(member, property):
                    lines.append(f"### property `{attr}.{mname}`\n")
                    if member.__doc__:
                        lines.append(_fence(inspect.cleandoc(member.__doc__)))
                    continue
                lines.append(f"### `{attr}.{mname}{_signature(member)}`\n")
                if member.__doc__:
                    lines.append(_fence(inspect.cleandoc(member.__doc__)))
        elif callable(obj):
            lines.append(f"## `{attr}{_signature(obj)}`\n")
            lines.append(_fence(_doc(obj)))
        else:
            lines.append(f"## `{attr}` = `{obj!r}`\n")
    return "\n".join(lines)


def build_builtin(out: str | os.PathLike) -> list[Path]:
    """The dependency-free generator: one ``<module>.md`` per public module and an ``index.md``."""
    _import_package()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    mods = public_modules()
    for name in mods:
        path = out / f"{name}.md"
        path.write_text(module_markdown(name), encoding="utf-8")
        written.append(path)
    index = ["# tinygrad_rnn API reference\n", "Generated from the docstrings by `docs/build_api.py`.\n"]
    for name in mods:
        first = (inspect.getdoc(importlib.import_module(name)) or "").strip().splitlines()
        index.append(f"- [`{name}`]({name}.md)" + (f": {first[0]}" if first else ""))
    (out / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    written.append(out / "index.md")
    return written


def build_pdoc(out: str | os.PathLike) -> None:
    import pdoc  # noqa: PLC0415  (optional)

    _import_package()
    pdoc.pdoc(PACKAGE, output_directory=Path(out))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "api"), help="output folder (default docs/api)")
    ap.add_argument("--builtin", action="store_true", help="use the built-in Markdown generator even if pdoc exists")
    args = ap.parse_args(argv)
    use_pdoc = not args.builtin
    if use_pdoc:
        try:
            import pdoc  # noqa: F401, PLC0415
        except ImportError:
            use_pdoc = False
    if use_pdoc:
        build_pdoc(args.out)
        print(f"API reference (pdoc HTML) written to {args.out}")
    else:
        files = build_builtin(args.out)
        print(f"API reference (Markdown, {len(files)} files) written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
