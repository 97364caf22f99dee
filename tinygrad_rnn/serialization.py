"""``save``/``load``: nested dicts and lists of tensors, arrays, numbers and strings in one ``.npz``.

Arrays become the archive's members ``a0, a1, ...``; the structure and the plain values go into a JSON
manifest stored as a uint8 member, so nothing is ever pickled. The write goes to a temporary file in
the same folder that is renamed over the target, so a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from . import backend
from .tensor import Tensor

_MANIFEST = "__tinygrad_rnn__"
_FORMAT = 1


def _encode(obj: Any, arrays: dict, where: str) -> Any:
    if isinstance(obj, Tensor):
        arrays[f"a{len(arrays)}"] = obj.numpy()
        return {"t": "tensor", "k": f"a{len(arrays) - 1}", "rg": obj.requires_grad}
    if isinstance(obj, (np.ndarray, backend.ndarray)):
        a = backend.to_numpy(obj)
        if a.dtype.kind not in "biufU":
            raise TypeError(
                f"save: {where} is an array of dtype {a.dtype}; only numeric, bool and str arrays "
                "can be saved without pickle"
            )
        arrays[f"a{len(arrays)}"] = a
        return {"t": "array", "k": f"a{len(arrays) - 1}"}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"save: dict keys must be strings; {where} has key {k!r}")
        return {"t": "dict", "v": {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {"t": type(obj).__name__, "v": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"t": "value", "v": obj}
    if isinstance(obj, np.generic):
        return {"t": "value", "v": obj.item()}
    raise TypeError(
        f"save: {where} has type {type(obj).__name__}; expected Tensor, array, dict, list, tuple, number, str or None"
    )


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` to ``path`` atomically as ``.npz`` (the name is used as given)."""
    arrays: dict = {}
    manifest = {"format": _FORMAT, "root": _encode(obj, arrays, "obj")}
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _decode(node: Any, archive: Any, path: str) -> Any:
    try:
        kind = node["t"]
        if kind in ("tensor", "array"):
            a = archive[node["k"]]
            if kind == "array":
                return a
            return Tensor(backend.to_backend(a), requires_grad=bool(node.get("rg", False)))
        if kind == "dict":
            return {k: _decode(v, archive, path) for k, v in node["v"].items()}
        if kind in ("list", "tuple"):
            items = [_decode(v, archive, path) for v in node["v"]]
            return items if kind == "list" else tuple(items)
        if kind == "value":
            return node["v"]
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"load: {path} has a malformed manifest entry {node!r} ({type(e).__name__}: {e})") from None
    raise ValueError(f"load: {path} has a manifest entry of unknown kind {kind!r}")


def load(path: str | os.PathLike) -> Any:
    """Read what :func:`save` wrote; never unpickles, and rejects anything else with a clear error."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: {path} does not exist or is not a file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"load: {path} is not an .npz archive written by tinygrad_rnn.save")
    try:
        with np.load(path, allow_pickle=False) as z:
            if _MANIFEST not in z.files:
                raise ValueError(
                    f"load: {path} is an .npz without the tinygrad_rnn manifest; "
                    "it was not written by tinygrad_rnn.save"
                )
            manifest = json.loads(bytes(z[_MANIFEST]).decode())
            if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
                fmt = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
                raise ValueError(f"load: {path} has an unsupported manifest (format {fmt!r})")
            arrays = {k: z[k] for k in z.files if k != _MANIFEST}
    except (json.JSONDecodeError, UnicodeDecodeError) as e:  # ValueError subclasses: catch before ValueError
        raise ValueError(f"load: {path} has a corrupt manifest ({type(e).__name__}: {e})") from None
    except ValueError as e:
        if "pickle" in str(e):
            raise ValueError(f"load: {path} holds object (pickled) arrays, which are refused for safety") from None
        if str(e).startswith("load:"):
            raise
        raise ValueError(f"load: {path} could not be read: {e}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"load: {path} is corrupt ({type(e).__name__}: {e})") from None
    return _decode(manifest.get("root"), arrays, path)
