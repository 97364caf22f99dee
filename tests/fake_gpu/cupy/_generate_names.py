"""Regenerate ``_names_generated.py`` from a CuPy source checkout (not imported at run time).

Usage (a bare git mirror of github.com/cupy/cupy and a tag)::

    python tests/fake_gpu/cupy/_generate_names.py /work/.mirror/cupy+cupy/repo v13.6.0

It reads, at that tag, only the files named below, and writes the public names each module
exports plus, for functions defined in Python or Cython, their parameter names (so the stand-in
can refuse a keyword argument that CuPy's signature lacks). Nothing is copied but names.
"""

from __future__ import annotations

import ast
import pprint
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).with_name("_names_generated.py")


class Source:
    def __init__(self, repo: str, tag: str) -> None:
        self.repo, self.tag = repo, tag
        self.commit = self.git("rev-parse", f"{tag}^{{commit}}").strip()
        self.files = set(self.git("ls-tree", "-r", "--name-only", tag).split())
        self.cache: dict[str, str | None] = {}

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", self.repo, *args], capture_output=True, text=True, check=True).stdout

    def module_file(self, module: str) -> str | None:
        base = module.replace(".", "/")
        for cand in (base + ".py", base + ".pyx", base + "/__init__.py"):
            if cand in self.files:
                return cand
        return None

    def text(self, path: str) -> str | None:
        if path not in self.cache:
            self.cache[path] = self.git("show", f"{self.tag}:{path}") if path in self.files else None
        return self.cache[path]


def _eval_test(test: ast.expr) -> bool | None:
    """The two kinds of module-level ``if`` in cupy/__init__.py: NumPy-version and hasattr checks."""
    src = ast.unparse(test)
    if "__version__" in src:
        return "<" not in src  # we emulate CuPy running on NumPy 2: `_numpy.__version__ < "2"` is False
    if src.startswith("hasattr(_numpy"):
        return True
    return None


def exports(tree: ast.Module) -> dict[str, tuple[str, str, str]]:
    """name -> (how, module, original name); how in import/def/class/assign."""
    out: dict[str, tuple[str, str, str]] = {}

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    name = a.asname or a.name
                    if not name.startswith("_"):
                        out[name] = ("import", node.module, a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    name = a.asname or a.name
                    if not name.startswith("_") and "." not in name:
                        out[name] = ("module", a.name, a.name)
            elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                out[node.name] = ("def", "", node.name)
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                out[node.name] = ("class", "", node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name) and not t.id.startswith("_"):
                        out[t.id] = ("assign", "", t.id)
            elif isinstance(node, ast.If):
                ok = _eval_test(node.test)
                if ok is None or ok:
                    visit(node.body)
                if ok is None or not ok:
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(tree.body)
    return out


_PYX_DEF = re.compile(r"^(?:cpdef|def)\s+(?:[\w.\[\]]+\s+)*?(\w+)\s*\(", re.M)


def _split_params(text: str) -> list[str]:
    depth, cur, parts = 0, "", []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    names = []
    for p in parts:
        p = p.split("=")[0].strip()
        if not p or p == "/":
            continue
        if p.startswith("**"):
            names.append("**")
        elif p.startswith("*"):
            names.append("*" if p == "*" else "*args")
        else:
            names.append(re.findall(r"\w+", p)[-1])
    return names


def pyx_params(text: str, name: str) -> list[str] | None:
    for m in _PYX_DEF.finditer(text):
        if m.group(1) != name:
            continue
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        return _split_params(text[m.end() : i - 1])
    return None


def py_params(fn: ast.FunctionDef) -> list[str]:
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args]
    if a.vararg:
        names.append("*args")
    elif a.kwonlyargs:
        names.append("*")
    names += [x.arg for x in a.kwonlyargs]
    if a.kwarg:
        names.append("**")
    return names


def resolve(src: Source, module: str, name: str, depth: int = 0) -> tuple[str, object]:
    """(kind, detail) of ``module.name``: ('function', params) | ('object', where) | ('class', where) |
    ('numpy', 'numpy.x') | ('module', path)."""
    if module.split(".")[0] == "numpy":
        return "numpy", f"{module}.{name}"
    path = src.module_file(module)
    if path is None or depth > 6:
        sub = src.module_file(f"{module}.{name}")
        return ("module", sub) if sub else ("object", f"{module}.{name}")
    text = src.text(path) or ""
    where = f"{path}:{name}"
    if path.endswith(".pyx"):
        params = pyx_params(text, name)
        if params is not None:
            return "function", params
        if re.search(rf"^(?:cdef |cpdef )?class {name}\b", text, re.M):
            return "class", where
        sub = src.module_file(f"{module}.{name}")
        if sub:
            return "module", sub
        m = re.search(rf"^from ([\w.]+) (?:c?import) .*\b{name}\b", text, re.M)
        if m:
            return resolve(src, m.group(1), name, depth + 1)
        return "object", where
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return "function", py_params(node)
        if isinstance(node, ast.ClassDef) and node.name == name:
            return "class", where
    ex = exports(tree)
    if name in ex and ex[name][0] == "import":
        _, mod, orig = ex[name]
        return resolve(src, mod, orig, depth + 1)
    sub = src.module_file(f"{module}.{name}")
    if sub:
        return "module", sub
    return "object", where


_CONVERTERS = ("asarray", "asanyarray", "array", "atleast_1d", "atleast_2d")


def host_ok(src: Source, module: str) -> dict[str, list[str]]:
    """Functions of ``module`` (Python-defined) that pass one of their own parameters straight to
    cupy.asarray/asanyarray/array/atleast_*d, i.e. that accept a host array for it."""
    tree = ast.parse(src.text(src.module_file(module)) or "")
    found: dict[str, list[str]] = {}
    for name, (how, mod, orig) in sorted(exports(tree).items()):
        if how != "import":
            continue
        path = src.module_file(mod)
        if path is None or not path.endswith(".py"):
            continue
        fn = next((n for n in ast.parse(src.text(path) or "").body
                   if isinstance(n, ast.FunctionDef) and n.name == orig), None)  # fmt: skip
        if fn is None:
            continue
        params = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
        conv = set()
        for n in ast.walk(fn):
            if isinstance(n, ast.Call) and ast.unparse(n.func).split(".")[-1] in _CONVERTERS and n.args:
                if isinstance(n.args[0], ast.Name) and n.args[0].id in params:
                    conv.add(n.args[0].id)
        if conv:
            found[name] = sorted(conv)
    return found


def namespace(src: Source, module: str) -> dict[str, tuple]:
    path = src.module_file(module)
    tree = ast.parse(src.text(path) or "")
    table: dict[str, tuple] = {}
    for name, (how, mod, orig) in sorted(exports(tree).items()):
        if how == "import":
            table[name] = resolve(src, mod, orig)
        elif how == "module":
            table[name] = ("module", mod)
        elif how == "def":
            fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
            table[name] = ("function", py_params(fn))
        elif how == "class":
            table[name] = ("class", f"{path}:{name}")
        else:
            table[name] = ("object", f"{path}:{name}")
    return table


def class_members(src: Source, path: str, cls: str) -> dict[str, list[str] | None]:
    """Public methods (with parameters) and properties of a (Cython or Python) class body."""
    text = src.text(path) or ""
    m = re.search(rf"^(?:cdef )?class {cls}\b.*?:\n", text, re.M)
    assert m, (path, cls)
    body = text[m.end() :]
    end = re.search(r"^\S", body, re.M)
    body = body[: end.start()] if end else body
    members: dict[str, list[str] | None] = {}
    for mm in re.finditer(r"^    (?:cpdef|def)\s+(?:[\w.\[\]]+\s+)*?(\w+)\s*\(", body, re.M):
        name = mm.group(1)
        params = pyx_params(body[mm.start() + 4 :], name)
        members[name] = params[1:] if params else []
    for mm in re.finditer(r"^    property (\w+)\s*:", body, re.M):
        members[mm.group(1)] = None
    for mm in re.finditer(r"^    @property\n    def (\w+)", body, re.M):
        members[mm.group(1)] = None
    for mm in re.finditer(r"^    (\w+) = ", body, re.M):
        members[mm.group(1)] = None
    return members


def main(repo: str, tag: str) -> None:
    src = Source(repo, tag)
    data: dict[str, object] = {"TAG": tag, "COMMIT": src.commit}
    for var, mod in [
        ("CUPY", "cupy"), ("CUPY_RANDOM", "cupy.random"), ("CUPY_LINALG", "cupy.linalg"), ("CUPY_FFT", "cupy.fft"),
        ("CUPY_CUDA", "cupy.cuda"), ("CUPYX", "cupyx"),
    ]:  # fmt: skip
        table = namespace(src, mod)
        # plain ``import contextlib`` lines are not part of the API
        data[var] = {k: v for k, v in table.items() if not (v[0] == "module" and "/" not in str(v[1]))}
    data["HOST_OK"] = host_ok(src, "cupy")
    nd = class_members(src, "cupy/_core/core.pyx", "_ndarray_base")
    nd.update(class_members(src, "cupy/_core/core.pyx", "ndarray"))
    # public attributes declared in core.pxd (`readonly ... data`, `base`, `dtype`, `size`)
    pxd = src.text("cupy/_core/core.pxd") or ""
    for mm in re.finditer(r"readonly [\w.]+(?: [\w.]+)* (\w+)\s*$", pxd, re.M):
        if not mm.group(1).startswith("_"):
            nd[mm.group(1)] = None
    data["NDARRAY"] = dict(sorted(nd.items()))
    data["GENERATOR"] = class_members(src, "cupy/random/_generator_api.pyx", "Generator")
    data["RANDOMSTATE"] = class_members(src, "cupy/random/_generator.py", "RandomState")
    data["UFUNC"] = class_members(src, "cupy/_core/_kernel.pyx", "ufunc")
    lines = [
        f'"""Generated by _generate_names.py from CuPy {tag}; do not edit by hand.',
        "",
        f"Commit {src.commit}.",
        "",
        "Each namespace maps a public name to (kind, detail): ('function', parameter names), ('object',",
        "'file:name' of a module-level object such as a ufunc), ('class', 'file:name'), ('numpy', the NumPy",
        "object CuPy re-exports) or ('module', file). Class tables map a member to its parameters (None for",
        'properties and attributes)."""',
        "",
        "# fmt: off",
    ]
    for k, v in data.items():
        lines.append(f"{k} = {pprint.pformat(v, width=118, compact=True)}")
    lines.append("# fmt: on")
    lines[0] = lines[0]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({sum(len(v) for v in data.values() if isinstance(v, dict))} names)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
