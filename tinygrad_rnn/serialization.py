"""``save``/``load``: nested dicts and lists of tensors, arrays, numbers and strings in one ``.npz``;
``load`` also reads checkpoints written by ``torch.save``.

Arrays become the archive's members ``a0, a1, ...``; the structure and the plain values go into a JSON
manifest stored as a uint8 member, so nothing is ever pickled. Saving to a path writes a temporary file
in the same folder that is renamed over the target, so a crash mid-save leaves the previous file
intact; saving into a binary file object writes at its position, with no such guarantee. A Module (or
anything else with a ``state_dict()``) is refused with a pointer to saving its ``state_dict()``.

``load`` takes a path or a binary file object (``open(path, "rb")``, ``io.BytesIO``; a text-mode
file is a ``TypeError``) and tells the format by content: our ``.npz`` (a zip with the manifest), a
``torch.save`` zip (a zip with ``<name>/data.pkl``), a legacy ``torch.save`` file (a pickle starting
with PyTorch's magic number). PyTorch files are read by :mod:`tinygrad_rnn._torch_format` without
PyTorch and without running pickle's code: only the tensor records of PyTorch's format are accepted
(its docstring lists them, the dtypes, bfloat16 read as float32, and its limits); any other global,
opcode or record is refused by name. Other pickles and tar archives (PyTorch < 0.4) are refused.
``map_location``, ``weights_only`` and ``mmap`` are accepted for PyTorch compatibility and change
nothing (``weights_only=False`` does not enable arbitrary pickles).

``load`` trusts nothing in the file. Anything malformed, truncated, oversized or hostile raises
``ValueError("load: <path>: ...")`` naming what is wrong (``<path>`` is a file object's ``name``, or
``<BytesIO>``-style), before any allocation the bad value would size (a missing path raises
``FileNotFoundError``). It never writes to disk. The limits of our format:

- nesting: at most ``_MAX_DEPTH`` = 100 dicts/lists/tuples inside one another. ``save`` refuses deeper
  objects (and cycles); ``load`` refuses a manifest whose JSON nests more than ``2 * 100 + 2`` levels
  (the manifest object, then a node object and its ``"v"`` per container, then the leaf node), counted
  on the raw bytes *before* ``json.loads``, which recurses and would otherwise raise RecursionError;
- the manifest: at most 16 MiB of UTF-8 JSON, ``{"format": 1, "root": node}``, no other keys, no
  duplicate keys; each node has exactly the keys of its kind (unknown keys are refused: a future
  format bumps ``format``), and each array member is referenced exactly once, so no member is unused
  and no small file decodes into many copies of one array;
- the zip: members are ``<name>.npy`` (letters, digits, ``_``), no duplicates, stored or deflated,
  not encrypted; declared sizes must be possible for the file's real size (stored: equal; deflated:
  at most 1032x, deflate's own limit); members lie inside the file and do not overlap; CRCs are checked;
- each array: ``.npy`` format 1.0 or 2.0 with a bool, int, uint, float, complex or str dtype (no
  object, structured or subarray dtypes); a shape of non-negative ints whose size times the item size
  equals the member's data size exactly; C or Fortran order. The array is read in chunks into exactly
  that allocation.

Temporary files are named ``.tinygrad_rnn-save-<host>-<pid>-<random>-<name>.tmp``; each save removes
those a dead writer left in its folder, never a live writer's (see :mod:`tinygrad_rnn._atomic`). The
saved file gets the permissions ``open()`` would give it: those of the file it replaces, or ``0o666``
less the umask for a new one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
from typing import IO, Any

import numpy as np

from . import _atomic, _npz, _torch_format, backend
from .tensor import Tensor

_MANIFEST = "__tinygrad_rnn__"
_FORMAT = 1
_MAX_DEPTH = 100
_MAX_JSON_DEPTH = 2 * _MAX_DEPTH + 2
_MAX_MANIFEST_BYTES = 16 << 20
# kind -> (required keys, optional keys)
_NODE_KEYS: dict[str, tuple[frozenset, frozenset]] = {
    "tensor": (frozenset({"t", "k"}), frozenset({"rg"})),
    "array": (frozenset({"t", "k"}), frozenset()),
    "dict": (frozenset({"t", "v"}), frozenset()),
    "list": (frozenset({"t", "v"}), frozenset()),
    "tuple": (frozenset({"t", "v"}), frozenset()),
    "value": (frozenset({"t", "v"}), frozenset()),
}


def _encode(obj: Any, arrays: dict) -> dict:
    """The manifest node for ``obj``, its arrays added to ``arrays`` in depth-first order."""
    from .nn.module import Module  # here: the nn package imports this module's package first

    holder: dict = {}
    stack: list[tuple[Any, Any, Any, str, int]] = [(obj, holder, "root", "obj", 0)]
    while stack:
        obj, parent, key, where, depth = stack.pop()
        node: dict
        if isinstance(obj, Tensor):
            arrays[f"a{len(arrays)}"] = obj.numpy()
            node = {"t": "tensor", "k": f"a{len(arrays) - 1}", "rg": obj.requires_grad}
        elif isinstance(obj, (np.ndarray, backend.ndarray)):
            a = backend.to_numpy(obj)
            if a.dtype.kind not in "biufU":
                raise TypeError(
                    f"save: {where} is an array of dtype {a.dtype}; only numeric, bool and str arrays "
                    "can be saved without pickle"
                )
            arrays[f"a{len(arrays)}"] = a
            node = {"t": "array", "k": f"a{len(arrays) - 1}"}
        elif isinstance(obj, (dict, list, tuple)):
            if depth >= _MAX_DEPTH:
                raise ValueError(
                    f"save: {where} is nested more than {_MAX_DEPTH} dicts/lists/tuples deep, which load "
                    "refuses (is there a cycle?)"
                )
            if isinstance(obj, dict):
                for k in obj:
                    if not isinstance(k, str):
                        raise TypeError(f"save: dict keys must be strings; {where} has key {k!r}")
                node = {"t": "dict", "v": dict.fromkeys(obj)}
                children = [(v, k, f"{where}[{k!r}]") for k, v in obj.items()]
            else:
                node = {"t": "tuple" if isinstance(obj, tuple) else "list", "v": [None] * len(obj)}
                children = [(v, i, f"{where}[{i}]") for i, v in enumerate(obj)]
            stack.extend((v, node["v"], k, w, depth + 1) for v, k, w in reversed(children))
        elif obj is None or isinstance(obj, (bool, int, float, str)):
            node = {"t": "value", "v": obj}
        elif isinstance(obj, np.generic):
            node = {"t": "value", "v": obj.item()}
        elif isinstance(obj, Module):
            raise TypeError(
                f"save: {where} is a Module ({type(obj).__name__}); save its state_dict() instead, e.g. "
                "tg.save(model.state_dict(), path), and restore it with model.load_state_dict(tg.load(path)) "
                "(tinygrad_rnn never pickles objects)"
            )
        elif callable(getattr(obj, "state_dict", None)):  # an optimizer, a scheduler, ...
            raise TypeError(
                f"save: {where} is a {type(obj).__name__}; save its state_dict() instead "
                "(tinygrad_rnn never pickles objects)"
            )
        else:
            raise TypeError(
                f"save: {where} has type {type(obj).__name__}; expected Tensor, array, dict, list, tuple, "
                "number, str or None"
            )
        parent[key] = node
    return holder["root"]


def _check_binary_file(f: Any, op: str, how: str) -> None:
    if isinstance(f, (bytes, bytearray, memoryview)) or not callable(getattr(f, how, None)):
        raise TypeError(f"{op}: expected a path or a binary file object, got {type(f).__name__}")
    mode = getattr(f, "mode", "b")  # not every file object has one, nor a str one (GzipFile: an int)
    if isinstance(f, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
        raise TypeError(f"{op}: {_stream_name(f)} is open in text mode; open it in binary mode ('{how[0]}b')")


def _stream_name(f: Any) -> str:
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else f"<{type(f).__name__}>"


def save(obj: Any, f: str | os.PathLike | IO[bytes]) -> None:
    """Write ``obj`` as ``.npz`` to the path ``f`` (atomically; the name is used as given) or into the
    binary file object ``f`` (at its position, which is left after the archive; ``f`` is not closed).

    A file object cannot be written atomically: a failure midway can leave a partial archive in it.
    Regular files and ``io.BytesIO`` are written directly; any other binary stream (a socket, a
    ``GzipFile``, a write-only object) gets the archive in one ``write`` once it is built in memory,
    since the zip writer seeks back into what it wrote. Modules and optimizers are refused with a
    pointer to ``state_dict()``; nothing is ever pickled.
    """
    arrays: dict = {}
    manifest = {"format": _FORMAT, "root": _encode(obj, arrays)}
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    if not isinstance(f, (str, os.PathLike)):
        _check_binary_file(f, "save", "write")
        if isinstance(f, (io.BytesIO, io.BufferedWriter, io.BufferedRandom, io.FileIO)) and f.seekable():
            np.savez(f, **arrays)
        else:
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            f.write(buf.getbuffer())
        if callable(getattr(f, "flush", None)):
            f.flush()
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    _atomic.remove_stale_temps(folder)
    try:
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)  # open("w") keeps an existing file's mode
    except OSError:
        mode = None
    fd, tmp = _atomic.create_temp(folder, os.path.basename(path), 0o600 if mode is not None else 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **arrays)
            out.flush()
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _atomic.fsync_folder(folder)


# ---- load ---------------------------------------------------------------------------------------------

_JSON_STRING_OR_NON_BRACKET = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[^\[\]{}"]+', re.DOTALL)


def _json_depth(raw: bytes) -> int:
    """How deep ``json.loads`` would nest on ``raw``, at most (computed without recursing)."""
    # Strings (an unterminated one runs to the end, as the parser would read it) and everything but
    # brackets are dropped in one linear pass; the running sum of +1/-1 over what is left is the depth.
    brackets = np.frombuffer(_JSON_STRING_OR_NON_BRACKET.sub(b"", raw), dtype=np.uint8)
    depth = peak = 0
    for start in range(0, brackets.size, 1 << 20):
        chunk = brackets[start : start + (1 << 20)]
        running = np.cumsum(((chunk == ord("[")) | (chunk == ord("{"))).astype(np.int32) * 2 - 1) + depth
        peak, depth = max(peak, int(running.max())), int(running[-1])
    return peak


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    # json keeps the last of duplicate keys silently; a file we wrote never has any.
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"duplicate key {k[:100]!r}")
            seen.add(k)
    return d


def _parse_manifest(raw: bytes) -> Any:
    """The manifest's root node, the manifest's envelope checked."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _npz.BadArchive(f"corrupt manifest (not UTF-8: {e})") from None
    depth = _json_depth(raw)
    if depth > _MAX_JSON_DEPTH:
        raise _npz.BadArchive(
            f"manifest nests {depth} levels deep; the limit is {_MAX_JSON_DEPTH} "
            f"({_MAX_DEPTH} dicts/lists/tuples inside one another)"
        )
    try:
        manifest = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as e:  # RecursionError: only if the caller's stack is nearly full
        raise _npz.BadArchive(f"corrupt manifest (not JSON: {type(e).__name__}: {e})") from None
    if not isinstance(manifest, dict):
        raise _npz.BadArchive(f"unsupported manifest (a JSON {type(manifest).__name__}, not an object)")
    fmt = manifest.get("format")
    if type(fmt) is not int or fmt != _FORMAT:
        raise _npz.BadArchive(f"unsupported manifest (format {fmt!r}; this version reads format {_FORMAT})")
    if set(manifest) != {"format", "root"}:
        raise _npz.BadArchive(f"unsupported manifest (keys {sorted(manifest)}; expected 'format' and 'root')")
    return manifest["root"]


def _where(path: tuple) -> str:
    # Paths are kept as linked pairs and rendered only for an error, so long keys cost nothing per node.
    keys = []
    while path:
        path, key = path
        keys.append(f"[{key!r}]" if len(repr(key)) <= 40 else f"[{repr(key)[:37]}...]")
    return "root" + "".join(reversed(keys))


def _bad_entry(path: tuple, what: str) -> _npz.BadArchive:
    return _npz.BadArchive(f"malformed manifest entry at {_where(path)}: {what}")


def _decode(root: Any, members: set[str]) -> tuple[list, list, list]:
    """Check the manifest tree iteratively and build it with arrays left as None.

    Returns the holder ``[result]``, the array slots ``(container, key, member, rg or None)`` to fill,
    and the ``(container, key)`` of each tuple, parents before children, to freeze once filled.
    """
    holder: list = [None]
    slots: list = []
    tuples: list = []
    used: set[str] = set()
    stack: list[tuple[Any, Any, Any, tuple, int]] = [(root, holder, 0, (), 0)]
    while stack:
        node, parent, key, path, depth = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise _bad_entry(path, f"expected an object with a string 't', got {repr(node)[:100]}")
        kind = node["t"]
        if kind not in _NODE_KEYS:
            raise _bad_entry(path, f"unknown kind {kind[:100]!r}")
        required, optional = _NODE_KEYS[kind]
        if not required <= node.keys() <= required | optional:
            raise _bad_entry(
                path, f"a {kind} entry has keys {sorted(node)[:10]}; expected {sorted(required | optional)}"
            )
        if kind in ("tensor", "array"):
            k, rg = node["k"], node.get("rg", False)
            if not isinstance(k, str) or k + ".npy" not in members:
                raise _bad_entry(path, f"'k' names member {repr(k)[:100]}, which is not in the archive")
            if k in used:
                raise _bad_entry(path, f"member {k!r} is referenced a second time")
            if not isinstance(rg, bool):
                raise _bad_entry(path, f"'rg' must be true or false, not {repr(rg)[:100]}")
            used.add(k)
            slots.append((parent, key, k, rg if kind == "tensor" else None))
        elif kind == "value":
            v = node["v"]
            if v is not None and not isinstance(v, (bool, int, float, str)):
                raise _bad_entry(path, f"a value must be a number, string, bool or null, not a JSON {type(v).__name__}")
            parent[key] = v
        else:
            if depth >= _MAX_DEPTH:  # unreachable past the JSON depth check; kept as the stated limit
                raise _bad_entry(path, f"nested more than {_MAX_DEPTH} dicts/lists/tuples deep")
            v = node["v"]
            if not isinstance(v, dict if kind == "dict" else list):
                raise _bad_entry(path, f"'v' of a {kind} must be a JSON {'object' if kind == 'dict' else 'array'}")
            out: Any = dict.fromkeys(v) if kind == "dict" else [None] * len(v)
            if kind == "tuple":
                tuples.append((parent, key))
            parent[key] = out
            items = v.items() if isinstance(v, dict) else enumerate(v)
            stack.extend((child, out, k, (path, k), depth + 1) for k, child in items)
    unused = members - {k + ".npy" for k in used}
    if unused:
        raise _npz.BadArchive(f"member {sorted(unused)[0]!r} is not referenced by the manifest")
    return holder, slots, tuples


def load(
    f: str | os.PathLike | IO[bytes],
    map_location: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
) -> Any:
    """Read a checkpoint from the path or binary file object ``f``: one :func:`save` wrote, or one
    ``torch.save`` wrote (zip or legacy format; see :mod:`tinygrad_rnn._torch_format`), told apart by
    content. Never unpickles anything but PyTorch's tensor records; anything else is a clear error.

    ``map_location`` and ``mmap`` are accepted for PyTorch compatibility and ignored: tensors land on
    the active backend. ``weights_only`` may be True, False or None and changes nothing: only data is
    ever read (``False`` does not enable arbitrary pickles). A file object is read from its start
    when seekable and at position 0, else from its position to its end (into memory); it is not closed.
    """
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"load: weights_only must be True, False or None, not {weights_only!r}")
    if not isinstance(f, (str, os.PathLike)):
        return _load_stream(f)
    path = os.fspath(f)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"load: {path} does not exist") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "a special file"
        raise ValueError(f"load: {path} is {what}, not a checkpoint file")
    # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening it must not hang.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        try:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _npz.BadArchive("is not a regular file")
            return _load(f, st.st_size)
        except _npz.BadArchive as e:
            raise ValueError(f"load: {path}: {e}") from None
        except Exception as e:  # anything the checks did not foresee still leaves as load's own error
            raise ValueError(f"load: {path} could not be read ({type(e).__name__}: {e})") from None


def _load_stream(f: Any) -> Any:
    _check_binary_file(f, "load", "read")
    name = _stream_name(f)
    try:
        if isinstance(f.read(0), str):
            raise TypeError(f"load: {name} is open in text mode; open it in binary mode ('rb')")
        seekable = callable(getattr(f, "seekable", None)) and f.seekable()
        if seekable and f.tell() == 0:
            size = f.seek(0, os.SEEK_END)
            f.seek(0)
        else:  # zip and legacy readers both seek: take the rest of the stream into memory
            f = io.BytesIO(f.read())
            size = len(f.getbuffer())
    except TypeError:
        raise
    except Exception as e:
        raise ValueError(f"load: {name} could not be read ({type(e).__name__}: {e})") from None
    try:
        return _load(f, size)
    except _npz.BadArchive as e:
        raise ValueError(f"load: {name}: {e}") from None
    except Exception as e:  # anything the checks did not foresee still leaves as load's own error
        raise ValueError(f"load: {name} could not be read ({type(e).__name__}: {e})") from None


def _load(f: Any, size: int) -> Any:
    head = f.read(512)
    f.seek(0)
    if _torch_format.looks_legacy(head):
        return _torch_format.load_legacy(f, size, _MAX_DEPTH)
    if _torch_format.looks_pickle(head):
        raise _npz.BadArchive(
            "a pickle, but not a torch.save checkpoint (no PyTorch magic number); tinygrad_rnn never "
            "unpickles arbitrary objects"
        )
    if _torch_format.looks_tar(head):
        raise _npz.BadArchive(
            "a tar archive (the checkpoint format of PyTorch before 0.4?), which is not read; re-save it "
            "with a current torch.save"
        )
    zf, infos = _npz.open_archive(f)
    with zf:
        # Checked first: for a zip that is not ours at all, this is the useful thing to say.
        if not any(i.filename == _MANIFEST + ".npy" for i in infos):
            prefix = _torch_format.zip_prefix(infos)
            if prefix is not None:
                return _torch_format.load_zip(zf, infos, size, prefix, _MAX_DEPTH)
            raise _npz.BadArchive(
                "an .npz without the tinygrad_rnn manifest; it was not written by tinygrad_rnn.save "
                "(nor by torch.save: no '<name>/data.pkl' member)"
            )
        members = _npz.check_directory(infos, size)
        raw = _npz.read_array(zf, members.pop(_MANIFEST + ".npy"), max_bytes=_MAX_MANIFEST_BYTES)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise _npz.BadArchive(f"corrupt manifest (a {raw.dtype} array of shape {raw.shape}, not uint8 bytes)")
        holder, slots, tuples = _decode(_parse_manifest(raw.tobytes()), set(members))
        for parent, key, k, rg in slots:  # every check passed: only now are the arrays allocated
            a = _npz.read_array(zf, members[k + ".npy"])
            parent[key] = a if rg is None else Tensor(backend.to_backend(a), requires_grad=rg, _share=True)
    for parent, key in reversed(tuples):  # children first, while their parents are still lists
        parent[key] = tuple(parent[key])
    return holder[0]
