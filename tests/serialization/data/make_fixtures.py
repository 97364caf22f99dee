"""Writes the torch.save fixtures that test_torch_checkpoints.py reads without PyTorch installed.

Run once with PyTorch available (``python tests/serialization/data/make_fixtures.py``); the outputs are
committed. ``expected.json`` holds, for each ``<name>.pt``, every tensor's path (``/key/key/index``) with
``[requires_grad, is_parameter]``, and under ``"values"`` each tensor's dtype, shape and flat values
as ``Tensor.numpy()`` gives them (bfloat16 widened to float32, lazy negation resolved), keyed
``<kind>|<path>`` where ``<kind>`` is the name without ``_legacy`` (both formats hold the same
objects). ``lstm_state.pt``'s weights are checked through ``"lstm_io"`` instead: an input and
PyTorch's LSTM outputs for it. (JSON, not .npz: the repository ignores ``*.npz`` files.)
"""

import json
import os

import numpy as np

# torch is imported where the script runs (at the bottom): test_torch_checkpoints.py imports flatten()
# from this file and must not need PyTorch.

HERE = os.path.dirname(os.path.abspath(__file__))


def tensors():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    twice = torch.randn(2, generator=g)
    return {
        "f32": torch.randn(2, 3, generator=g),
        "f64": torch.randn(3, generator=g, dtype=torch.float64),
        "f16": torch.randn(4, generator=g).half(),
        "bf16": torch.randn(3, generator=g).bfloat16(),
        "i64": torch.arange(-2, 3),
        "i32": torch.tensor([-(2**31), 0, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-(2**15), 7], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "u16": torch.tensor([0, 1, 65535]).to(torch.uint16),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "transposed": base.t(),
        "slice": base[1:3, 2:5],
        "row": base[2],
        "col": base[:, 1],
        "shared_a": base.detach(),
        "shared_b": base.view(24)[5:17],
        "shared_c": base.detach(),
        "expanded": torch.arange(3.0).expand(4, 3),
        "neg": torch._neg_view(torch.arange(3.0)),
        "param": torch.nn.Parameter(torch.randn(2, generator=g)),
        "twice": [twice, twice],
    }


def checkpoint():
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).pow(2).sum().backward()
    opt.step()
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "loss": 0.5,
        "name": "run-1",
        "none": None,
        "flag": True,
        "size": torch.Size([2, 3]),
        "pair": (1, 2.5),
        "ints": [1, 2, 3],
        "bytes": b"\x00\xff",
        "set": {1, 2},
    }


def flatten(obj, tensor_type, path=""):
    """``(path, tensor)`` for each ``tensor_type`` in nested dicts, lists and tuples, in their order; a
    path names the keys and indices on the way (``/model/weight``, ``/twice/1``)."""
    if isinstance(obj, tensor_type):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, tensor_type, f"{path}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from flatten(v, tensor_type, f"{path}/{i}")


def main():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32))
    with torch.no_grad():
        y, (h, c) = lstm(x)
    expected = {"lstm_io": {k: plain(v.numpy()) for k, v in {"x": x, "y": y, "h": h, "c": c}.items()}}
    objects = {
        "lstm_state": (lstm.state_dict(), True),
        "tensors": (tensors(), True),
        "tensors_legacy": (tensors(), False),
        "checkpoint": (checkpoint(), True),
        "checkpoint_legacy": (checkpoint(), False),
    }
    arrays, paths = {}, {}
    for name, (obj, zip_format) in objects.items():
        torch.save(obj, os.path.join(HERE, f"{name}.pt"), _use_new_zipfile_serialization=zip_format)
        kind = name.removesuffix("_legacy")
        paths[name] = {}
        for path, t in flatten(obj, torch.Tensor):
            value = t.detach().resolve_neg()
            value = plain((value.float() if value.dtype == torch.bfloat16 else value).numpy())
            if name == kind != "lstm_state":
                arrays[f"{kind}|{path}"] = value
            elif name != kind:
                assert arrays[f"{kind}|{path}"] == value
            paths[name][path] = [t.requires_grad, isinstance(t, torch.nn.Parameter)]
    expected.update(paths=paths, values=arrays)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))  # insertion order: the files' order
        f.write("\n")


def plain(a):
    """An array as JSON. Floats are written as their shortest repr in their own dtype, which reads back
    (``np.array(values, dtype)``) to the same value and keeps the file small."""
    values = [float(str(v)) for v in a.ravel()] if a.dtype.kind == "f" else a.ravel().tolist()
    return {"dtype": str(a.dtype), "shape": list(a.shape), "values": values}


if __name__ == "__main__":
    import torch

    main()
