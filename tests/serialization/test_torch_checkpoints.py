"""tg.load on files written by torch.save: faithful without PyTorch, and nothing in the file ever runs.

Three groups: (a) files torch writes here at test time (skipped without torch), compared exactly with
torch's own values; (b) the committed fixtures under data/ (see data/make_fixtures.py) and hand-built
valid records, torch-free; (c) hostile pickles, hand-assembled opcode by opcode inside torch-like zips
and legacy files: each must end in load's own ``ValueError("load: ...")`` with nothing executed.
"""

import collections
import copyreg
import importlib.util
import io
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from device_helpers import child_pythonpath

import tinygrad_rnn as tg
from tinygrad_rnn import _torch_format, _torch_pickle

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[2]
LOAD_ERROR = r"^load: "
MAGIC = 0x1950A86A20F9469CFC6C


def _same_memory(a, b) -> bool:
    """Whether two loaded tensors share memory, asked of the backend (``.numpy()`` copies from a GPU)."""
    return bool(tg.backend.xp.shares_memory(a.array, b.array))


# ---- a small pickle assembler ---------------------------------------------------------------------------
# Values are written with the binary opcodes protocol 2 uses (4+ for STACK_GLOBAL); the classes below
# stand for what a hostile or a torch-written pickle contains. Nothing here needs torch.


class G:
    """A global ``module.name`` (GLOBAL, or STACK_GLOBAL from protocol 4)."""

    def __init__(self, module, name):
        self.module, self.name = module, name


class Call:
    """``fn(*args)`` through REDUCE."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args


class Pid:
    """A persistent id (BINPERSID)."""

    def __init__(self, value):
        self.value = value


class Build:
    """``obj`` with BUILD ``state``."""

    def __init__(self, obj, state):
        self.obj, self.state = obj, state


class OD:
    """``collections.OrderedDict()`` filled by SETITEMS, as torch writes a state_dict."""

    def __init__(self, items=()):
        self.items = list(items.items() if isinstance(items, dict) else items)


class Raw(bytes):
    """Bytes copied into the pickle as they are."""


def asm(obj, proto=2):
    out = bytearray(b"\x80" + bytes([proto]))
    _emit(obj, out, proto)
    return bytes(out + b".")


def _emit(o, out, proto):
    e = lambda x: _emit(x, out, proto)  # noqa: E731

    def marked(items, opcode):
        """MARK, each item, then ``opcode``, which collects what was pushed since the mark."""
        out.extend(b"(")
        for x in items:
            e(x)
        out.extend(opcode)

    if isinstance(o, Raw):
        out += o
    elif o is None:
        out += b"N"
    elif o is True or o is False:
        out += b"\x88" if o else b"\x89"
    elif isinstance(o, int):
        if 0 <= o < 256:
            out += b"K" + bytes([o])
        elif 0 <= o < 65536:
            out += b"M" + struct.pack("<H", o)
        elif -(2**31) <= o < 2**31:
            out += b"J" + struct.pack("<i", o)
        else:
            b = pickle.encode_long(o)
            out += b"\x8a" + bytes([len(b)]) + b
    elif isinstance(o, float):
        out += b"G" + struct.pack(">d", o)
    elif isinstance(o, str):
        b = o.encode()
        out += b"X" + struct.pack("<I", len(b)) + b
    elif isinstance(o, bytes):
        out += b"C" + bytes([len(o)]) + o
    elif isinstance(o, tuple):
        if not o:
            out += b")"
        elif len(o) <= 3:
            for x in o:
                e(x)
            out += b"\x85\x86\x87"[len(o) - 1 : len(o)]
        else:
            marked(o, b"t")
    elif isinstance(o, list):
        out += b"]"
        if o:
            marked(o, b"e")
    elif isinstance(o, dict):
        out += b"}"
        if o:
            marked([x for kv in o.items() for x in kv], b"u")
    elif isinstance(o, OD):
        e(Call(G("collections", "OrderedDict")))
        if o.items:
            marked([x for kv in o.items for x in kv], b"u")
    elif isinstance(o, G):
        if proto >= 4:
            e(o.module)
            e(o.name)
            out += b"\x93"
        else:
            out += b"c" + f"{o.module}\n{o.name}\n".encode()
    elif isinstance(o, Call):
        e(o.fn)
        e(tuple(o.args))
        out += b"R"
    elif isinstance(o, Pid):
        e(o.value)
        out += b"Q"
    elif isinstance(o, Build):
        e(o.obj)
        e(o.state)
        out += b"b"
    else:
        raise TypeError(type(o))


def pid(key="0", numel=4, stype="FloatStorage", location="cpu", legacy=False, module="torch"):
    t = ("storage", G(module, stype), key, location, numel)
    return Pid(t + (None,) if legacy else t)


def v2(storage, offset=0, size=(4,), stride=(1,), rg=False, hooks=None, *extra):
    hooks = OD() if hooks is None else hooks
    return Call(G("torch._utils", "_rebuild_tensor_v2"), storage, offset, size, stride, rg, hooks, *extra)


def v3(storage, dtype, offset=0, size=(4,), stride=(1,), rg=False):
    return Call(G("torch._utils", "_rebuild_tensor_v3"), storage, offset, size, stride, rg, OD(), G("torch", dtype))


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


F32 = np.arange(4, dtype="<f4")


def torch_zip(path, obj, storages=None, prefix="archive", byteorder=b"little", extra=(), proto=2, **kw):
    """A torch.save-style zip: ``obj`` (assembled, or raw pickle bytes) and ``storages`` (key -> bytes)."""
    pkl = obj if isinstance(obj, bytes) else asm(obj, proto)
    storages = {"0": F32.tobytes()} if storages is None else storages
    members = [(f"{prefix}/data.pkl", pkl)]
    if byteorder is not None:
        members.append((f"{prefix}/byteorder", byteorder))
    members += [(f"{prefix}/data/{k}", v) for k, v in storages.items()]
    members += [(f"{prefix}/version", b"3\n"), *extra]
    return write_zip(path, members, **kw)


def legacy_file(path, obj, storages=None, keys=None, magic=MAGIC, version=1001, sys_info=None, tail=b""):
    """A legacy torch.save file; ``storages``: key -> (element count, bytes), written in ``keys`` order."""
    storages = {"0": (4, F32.tobytes())} if storages is None else storages
    keys = list(storages) if keys is None else keys
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    parts = [
        pickle.dumps(magic, protocol=2),
        pickle.dumps(version, protocol=2),
        sys_info if isinstance(sys_info, bytes) else pickle.dumps(info if sys_info is None else sys_info, 2),
        obj if isinstance(obj, bytes) else asm(obj),
        keys if isinstance(keys, bytes) else pickle.dumps(keys, protocol=2),
    ]
    for k in keys if isinstance(keys, list) else []:
        if k in storages:
            numel, data = storages[k]
            parts.append(struct.pack("<q", numel) + data)
    path.write_bytes(b"".join(parts) + tail)
    return path


def as_legacy(o):
    """The same object with every zip-format storage id given the legacy format's sixth field."""
    if isinstance(o, Pid) and isinstance(o.value, tuple) and len(o.value) == 5:
        return Pid(o.value + (None,))
    if isinstance(o, Call):
        return Call(as_legacy(o.fn), *(as_legacy(a) for a in o.args))
    if isinstance(o, Build):
        return Build(as_legacy(o.obj), as_legacy(o.state))
    if isinstance(o, OD):
        return OD([(as_legacy(k), as_legacy(v)) for k, v in o.items])
    if isinstance(o, dict):
        return {as_legacy(k): as_legacy(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return type(o)(as_legacy(x) for x in o)
    return o


def both_formats(tmp_path, obj, storages=None, proto=2):
    """The same object as a zip-format and a legacy-format file (storages: key -> little-endian array)."""
    storages = {"0": F32} if storages is None else storages
    z = torch_zip(tmp_path / "z.pt", obj, {k: a.tobytes() for k, a in storages.items()}, proto=proto)
    leg = legacy_file(tmp_path / "l.pt", as_legacy(obj), {k: (a.size, a.tobytes()) for k, a in storages.items()})
    return z, leg


def refused(path, *words):
    with pytest.raises(ValueError, match=LOAD_ERROR) as info:
        tg.load(path)
    msg = str(info.value)
    for w in words:
        assert w in msg, (w, msg)
    return msg


def _load_fixture_writer():
    """data/make_fixtures.py as a module (importing it runs nothing and needs no torch)."""
    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE_FIXTURES = _load_fixture_writer()


def flatten(obj):
    """``(path, tensor)`` pairs, with the paths expected.json uses (the fixture writer's own flatten)."""
    return MAKE_FIXTURES.flatten(obj, tg.Tensor)


def assert_tensor(t, expected, requires_grad=False):
    assert isinstance(t, tg.Tensor)
    expected = np.asarray(expected)
    assert t.dtype == expected.dtype and t.shape == expected.shape, (t.dtype, t.shape, expected.dtype)
    assert t.requires_grad is requires_grad
    np.testing.assert_array_equal(t.numpy(), expected)


# ---- (b) the committed fixtures, read without torch --------------------------------------------------------

EXPECTED = json.loads((DATA / "expected.json").read_text())
FIXTURES = sorted(EXPECTED["paths"])


def _expected_array(entry):
    return np.array(entry["values"], dtype=entry["dtype"]).reshape(entry["shape"])


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_tensors_match_what_torch_wrote(name):
    back = tg.load(DATA / f"{name}.pt")
    got = dict(flatten(back))
    assert list(got) == list(EXPECTED["paths"][name])  # same tensors, same order
    kind = name.removesuffix("_legacy")
    for path, (requires_grad, parameter) in EXPECTED["paths"][name].items():
        t = got[path]
        assert isinstance(t, tg.nn.Parameter) is parameter, path
        if kind != "lstm_state":
            assert_tensor(t, _expected_array(EXPECTED["values"][f"{kind}|{path}"]), requires_grad)


def test_fixture_lstm_loads_into_tinygrad_lstm_and_matches_torch_outputs():
    sd = tg.load(DATA / "lstm_state.pt")
    assert type(sd) is collections.OrderedDict
    lstm = tg.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert list(sd) == list(lstm.state_dict())
    assert lstm.load_state_dict(sd) == ([], [])
    io_ = {k: _expected_array(v) for k, v in EXPECTED["lstm_io"].items()}
    y, (h, c) = lstm(tg.Tensor(io_["x"]))
    np.testing.assert_allclose(y.numpy(), io_["y"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(h.numpy(), io_["h"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(c.numpy(), io_["c"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["checkpoint", "checkpoint_legacy"])
def test_fixture_checkpoint_plain_values(name):
    ck = tg.load(DATA / f"{name}.pt")
    assert type(ck) is dict and type(ck["model"]) is collections.OrderedDict
    assert (ck["epoch"], ck["loss"], ck["name"], ck["none"], ck["flag"]) == (3, 0.5, "run-1", None, True)
    assert ck["size"] == (2, 3) and type(ck["size"]) is tuple
    assert ck["pair"] == (1, 2.5) and ck["ints"] == [1, 2, 3] and ck["bytes"] == b"\x00\xff" and ck["set"] == {1, 2}
    opt = ck["optimizer"]
    assert sorted(opt["state"]) == [0, 1]  # int keys, as torch writes optimizer state
    assert opt["param_groups"][0]["params"] == [0, 1] and opt["param_groups"][0]["lr"] == 0.01
    assert opt["param_groups"][0]["betas"] == (0.9, 0.999)
    assert opt["state"][0]["step"].shape == () and float(opt["state"][0]["step"].numpy()) == 1.0


@pytest.mark.parametrize("name", ["tensors", "tensors_legacy"])
def test_fixture_shared_and_strided_tensors(name):
    t = tg.load(DATA / f"{name}.pt")
    base = t["shared_a"].numpy()
    np.testing.assert_array_equal(t["transposed"].numpy(), base.T)
    np.testing.assert_array_equal(t["slice"].numpy(), base[1:3, 2:5])
    np.testing.assert_array_equal(t["shared_b"].numpy(), base.reshape(24)[5:17])
    np.testing.assert_array_equal(t["shared_c"].numpy(), base)
    np.testing.assert_array_equal(t["expanded"].numpy(), np.broadcast_to(np.arange(3.0, dtype=np.float32), (4, 3)))
    np.testing.assert_array_equal(t["neg"].numpy(), -np.arange(3.0, dtype=np.float32))
    assert t["twice"][0] is t["twice"][1]  # one tensor saved twice stays one object, as in torch
    assert t["bf16"].dtype == np.float32 and t["u16"].dtype == np.uint16
    assert isinstance(t["param"], tg.nn.Parameter) and t["param"].requires_grad
    for k in ("transposed", "slice", "expanded"):
        assert t[k].numpy().flags.c_contiguous
    t["shared_a"].data[0, 0] = 99.0  # identical views share data (torch aliases them); others are copies
    assert t["shared_c"].numpy()[0, 0] == 99.0 and t["transposed"].numpy()[0, 0] != 99.0


def test_loading_never_imports_torch():
    # In a fresh interpreter where `import torch` fails: every fixture still loads.
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["torch"] = None  # any import of torch now raises ImportError
        import tinygrad_rnn as tg
        for name in {FIXTURES!r}:
            tg.load({str(DATA)!r} + "/" + name + ".pt")
        print("loaded", len({FIXTURES!r}), tg.backend.name)
        """
    )
    # the child inherits the backend: on the CuPy stand-in it loads every fixture onto the device, also without torch
    env = {**os.environ, "PYTHONPATH": child_pythonpath(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"loaded {len(FIXTURES)} {tg.backend.name}"


def test_fixture_loads_from_file_objects():
    raw = (DATA / "checkpoint.pt").read_bytes()
    a = tg.load(io.BytesIO(raw))
    with open(DATA / "checkpoint_legacy.pt", "rb") as f:
        b = tg.load(f)
        assert not f.closed
    for (pa, ta), (pb, tb) in zip(flatten(a), flatten(b)):
        assert pa == pb
        assert_tensor(tb, ta.numpy(), ta.requires_grad)


# ---- (b) hand-built valid records ---------------------------------------------------------------------------

DTYPES = [
    ("FloatStorage", np.float32),
    ("DoubleStorage", np.float64),
    ("HalfStorage", np.float16),
    ("LongStorage", np.int64),
    ("IntStorage", np.int32),
    ("ShortStorage", np.int16),
    ("CharStorage", np.int8),
    ("ByteStorage", np.uint8),
    ("BoolStorage", np.bool_),
]


@pytest.mark.parametrize("stype, dtype", DTYPES, ids=[d[0] for d in DTYPES])
@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_storage_types(tmp_path, stype, dtype, fmt):
    a = (np.arange(6) % 3 == 1) if dtype is np.bool_ else (np.arange(6) * 7 - 9).astype(dtype)
    a = a.astype(np.dtype(dtype).newbyteorder("<"))
    obj = OD({"w": v2(pid(numel=6, stype=stype), 0, (2, 3), (3, 1))})
    paths = both_formats(tmp_path, obj, {"0": a})
    back = tg.load(paths[0] if fmt == "zip" else paths[1])
    assert type(back) is collections.OrderedDict and list(back) == ["w"]
    assert_tensor(back["w"], a.reshape(2, 3).astype(dtype))


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64", "int32", "float32", "bool"])
def test_untyped_storage_with_v3_dtype(tmp_path, dtype):
    a = (np.arange(5) % 2 == 0) if dtype == "bool" else np.arange(5).astype(dtype) * 3
    raw = a.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
    path = torch_zip(
        tmp_path / "u.pt",
        v3(pid(numel=len(raw), stype="UntypedStorage", module="torch.storage"), dtype, 1, (3,), (1,)),
        {"0": raw},
    )
    assert_tensor(tg.load(path), a[1:4])


def test_bfloat16_becomes_float32_exactly(tmp_path):
    want = np.array([1.0, -2.5, 3.140625, 0.0, -0.0, 65280.0, 2.0**-126], dtype=np.float32)
    bits = (want.view(np.uint32) >> 16).astype("<u2")
    assert np.array_equal((bits.astype(np.uint32) << 16).view(np.float32), want)  # the values are exact in bf16
    obj = v2(pid(numel=7, stype="BFloat16Storage"), 0, (7,), (1,), True)
    for path in both_formats(tmp_path, obj, {"0": bits}):
        t = tg.load(path)
        assert_tensor(t, want, requires_grad=True)
        assert math.copysign(1, t.numpy()[4]) == -1


def test_big_endian_byteorder_record(tmp_path):
    a = np.array([[1.5, -2.0], [3.25, 1e30]], dtype=np.float64)
    obj = {
        "d": v2(pid(numel=4, stype="DoubleStorage"), 0, (2, 2), (1, 2)),
        "i": v2(pid("1", 3, "IntStorage"), 1, (2,), (1,)),
    }
    storages = {"0": a.astype(">f8").tobytes(), "1": np.array([7, -8, 9], ">i4").tobytes()}
    back = tg.load(torch_zip(tmp_path / "be.pt", obj, storages, byteorder=b"big"))
    assert_tensor(back["d"], a.reshape(4).reshape(2, 2, order="F"))
    assert_tensor(back["i"], np.array([-8, 9], np.int32))


def test_missing_byteorder_record_means_little_endian(tmp_path):
    assert_tensor(tg.load(torch_zip(tmp_path / "n.pt", v2(pid()), byteorder=None)), F32)


STRIDED = [
    ("whole", 0, (4,), (1,), F32),
    ("offset", 1, (3,), (1,), F32[1:]),
    ("matrix", 0, (2, 2), (2, 1), F32.reshape(2, 2)),
    ("transposed", 0, (2, 2), (1, 2), F32.reshape(2, 2).T),
    ("every_other", 1, (2,), (2,), F32[1::2]),
    ("broadcast", 2, (3, 2), (0, 1), np.broadcast_to(F32[2:], (3, 2))),
    ("scalar", 3, (), (), np.float32(3.0)),
    ("empty", 0, (0,), (1,), np.zeros(0, np.float32)),
    ("empty_2d", 4, (0, 5), (5, 1), np.zeros((0, 5), np.float32)),
    ("empty_past_end", 100, (3, 0), (1, 1), np.zeros((3, 0), np.float32)),
    ("size_one_odd_stride", 0, (1, 4), (99, 1), F32.reshape(1, 4)),
]


@pytest.mark.parametrize("case", STRIDED, ids=[c[0] for c in STRIDED])
def test_strided_views(tmp_path, case):
    _, offset, size, stride, want = case
    for path in both_formats(tmp_path, v2(pid(), offset, size, stride)):
        t = tg.load(path)
        assert_tensor(t, np.array(want, order="C"))
        assert t.numpy().flags.c_contiguous and t.numpy().flags.writeable


def test_views_sharing_a_storage(tmp_path):
    obj = [v2(pid(), 0, (2, 2), (2, 1)), v2(pid(), 0, (2, 2), (1, 2)), v2(pid(), 0, (2, 2), (2, 1))]
    a, b, c = tg.load(torch_zip(tmp_path / "s.pt", obj))
    assert_tensor(a, F32.reshape(2, 2))
    assert_tensor(b, F32.reshape(2, 2).T)
    assert a is not c and _same_memory(a, c)  # identical views: built once
    assert not _same_memory(a, b)


def test_parameters_and_tensor_subclass_records(tmp_path):
    data = v2(pid(), 0, (2, 2), (2, 1))
    obj = {
        "p": Call(G("torch._utils", "_rebuild_parameter"), data, True, OD()),
        "frozen": Call(G("torch._utils", "_rebuild_parameter"), data, False, OD()),
        "p_state": Call(G("torch._utils", "_rebuild_parameter_with_state"), data, True, OD(), {"foo": 3}),
        "t_attrs": Call(
            G("torch._tensor", "_rebuild_from_type_v2"),
            G("torch._utils", "_rebuild_tensor_v2"),
            G("torch", "Tensor"),
            (pid(), 0, (4,), (1,), False, OD()),
            {"bar": "z"},
        ),
        "p_type": Call(
            G("torch._tensor", "_rebuild_from_type_v2"),
            G("torch._utils", "_rebuild_tensor_v2"),
            G("torch.nn.parameter", "Parameter"),
            (pid(), 0, (4,), (1,), True, OD()),
            None,
        ),
        "old": Call(G("torch._utils", "_rebuild_tensor"), pid(), 1, (2,), (1,)),
    }
    for path in both_formats(tmp_path, obj):
        back = tg.load(path)
        assert isinstance(back["p"], tg.nn.Parameter) and back["p"].requires_grad
        assert isinstance(back["frozen"], tg.nn.Parameter) and not back["frozen"].requires_grad
        assert isinstance(back["p_state"], tg.nn.Parameter) and not hasattr(back["p_state"], "foo")
        assert type(back["t_attrs"]) is tg.Tensor and not hasattr(back["t_attrs"], "bar")
        assert isinstance(back["p_type"], tg.nn.Parameter) and back["p_type"].requires_grad
        assert_tensor(back["old"], F32[1:3])
        np.testing.assert_array_equal(back["p"].numpy(), F32.reshape(2, 2))


def test_neg_metadata_is_applied(tmp_path):
    path = torch_zip(tmp_path / "n.pt", v2(pid(), 0, (4,), (1,), False, None, {"neg": True}))
    assert_tensor(tg.load(path), -F32)
    path = torch_zip(tmp_path / "n2.pt", v2(pid(), 0, (4,), (1,), False, None, {"neg": False, "conj": False}))
    assert_tensor(tg.load(path), F32)


def test_plain_values_and_containers(tmp_path):
    obj = {
        "size": Call(G("torch", "Size"), (2, 3)),
        "set": Call(G("builtins", "set"), [1, "a"]),
        "py2set": Call(G("__builtin__", "set"), [(1, 2)]),
        "frozen": Call(G("builtins", "frozenset"), [3]),
        "bytes": Call(G("_codecs", "encode"), "\x00\xffab", "latin1"),
        "sd": Build(OD({"w": v2(pid())}), {"_metadata": OD({"": {"version": 1}})}),
        "keys": {0: "int", -5: None, 2.5: "float", True: 1, None: 2, ("t", 1): 3, b"b": 4},
        "nums": [2**63 - 1, -(2**63), 2**64 - 1, 1e308, -0.0],
        "str": "héllo ✓",
    }
    for path in both_formats(tmp_path, obj):
        back = tg.load(path)
        assert back["size"] == (2, 3) and back["set"] == {1, "a"} and back["py2set"] == {(1, 2)}
        assert back["frozen"] == frozenset({3}) and back["bytes"] == b"\x00\xffab"
        assert type(back["sd"]) is collections.OrderedDict and not hasattr(back["sd"], "_metadata")
        assert back["keys"] == obj["keys"] and back["nums"] == obj["nums"] and back["str"] == "héllo ✓"


@pytest.mark.parametrize("proto", [2, 3, 4, 5])
def test_pickle_protocols(tmp_path, proto):
    obj = OD({"w": v2(pid("k7", 4, location="cuda:0"), 0, (2, 2), (2, 1)), "b": b"\x01"})
    back = tg.load(torch_zip(tmp_path / "p.pt", obj, {"k7": F32.tobytes()}, proto=proto))
    assert_tensor(back["w"], F32.reshape(2, 2))
    assert back["b"] == b"\x01"


def test_framed_memoized_protocol_4(tmp_path):
    # FRAME and MEMOIZE as pickle.dumps writes them from protocol 4.
    body = asm(OD({"a": v2(pid()), "b": [1, 2]}), proto=4)[2:]
    body = body.replace(b"R", b"R\x94", 1)  # memoize the OrderedDict
    framed = b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body
    back = tg.load(torch_zip(tmp_path / "f.pt", framed))
    assert_tensor(back["a"], F32)


def test_shared_subtrees_stay_shared_and_cost_nothing_twice(tmp_path):
    # 60 levels of [x, x] are 2**60 paths but 60 objects: memo references are followed once.
    pkl = bytearray(b"\x80\x02N")
    for i in range(60):
        pkl += b"q" + bytes([i]) + b"h" + bytes([i]) + b"\x86"  # (x, x): put x, get it back, TUPLE2
    pkl += b"."
    t = time.monotonic()
    back = tg.load(torch_zip(tmp_path / "dag.pt", bytes(pkl)))
    assert time.monotonic() - t < 5
    assert back[0] is back[1] and back[0][0] is back[0][1]


def test_unknown_members_are_ignored_and_archive_name_is_free(tmp_path):
    extra = [("my model (1)/.data/serialization_id", b"123"), ("my model (1)/extra/", b"")]
    path = torch_zip(tmp_path / "x.pt", v2(pid()), prefix="my model (1)", extra=extra)
    assert_tensor(tg.load(path), F32)


def test_repacked_deflated_zip_loads(tmp_path):
    path = torch_zip(tmp_path / "d.pt", OD({"w": v2(pid())}), compression=zipfile.ZIP_DEFLATED)
    assert_tensor(tg.load(path)["w"], F32)


def test_nesting_up_to_the_limit(tmp_path):
    obj = "leaf"
    for _ in range(100):
        obj = [obj]
    back = tg.load(torch_zip(tmp_path / "deep.pt", obj))
    for _ in range(100):
        back = back[0]
    assert back == "leaf"


# ---- (c) hostile: globals ---------------------------------------------------------------------------------


def payloads(marker, folder):
    cmd = f"touch {marker}"
    code = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": Call(G("os", "system"), cmd),
        "posix.system": Call(G("posix", "system"), cmd),
        "nt.system": Call(G("nt", "system"), cmd),
        "os.popen": Call(G("os", "popen"), cmd),
        "builtins.eval": Call(G("builtins", "eval"), code),
        "builtins.exec": Call(G("builtins", "exec"), code),
        "__builtin__.eval": Call(G("__builtin__", "eval"), code),
        "builtins.open": Call(G("builtins", "open"), str(marker), "w"),
        "builtins.__import__": Call(G("builtins", "__import__"), "antigravity"),
        "builtins.getattr": Call(Call(G("builtins", "getattr"), G("os", "path"), "exists"), str(marker)),
        "builtins.compile": Call(G("builtins", "compile"), code, "x", "exec"),
        "subprocess.Popen": Call(G("subprocess", "Popen"), ["touch", str(marker)]),
        "subprocess.check_call": Call(G("subprocess", "check_call"), ["touch", str(marker)]),
        "importlib.import_module": Call(G("importlib", "import_module"), "this"),
        "shutil.rmtree": Call(G("shutil", "rmtree"), str(folder)),
        "pathlib.Path": Call(G("pathlib", "Path"), str(marker)),
        "copyreg._reconstructor": Call(
            G("copyreg", "_reconstructor"), G("builtins", "object"), G("builtins", "object"), None
        ),
        "numpy.load": Call(G("numpy", "load"), str(marker)),
        "numpy_scalar": Call(G("numpy.core.multiarray", "scalar"), G("numpy", "dtype"), b"\x00" * 8),
        "torch.load": Call(G("torch", "load"), str(marker)),
        "torch.serialization.load": Call(G("torch.serialization", "load"), str(marker)),
        "torch.Tensor.__reduce_ex__": Call(G("torch", "Tensor.__reduce_ex__"), 2),
        "torch._utils.dotted": Call(G("torch._utils", "_rebuild_tensor_v2.__globals__"), 0),
        "torch._utils._rebuild_device_tensor_from_numpy": Call(
            G("torch._utils", "_rebuild_device_tensor_from_numpy"), 1
        ),
        "tinygrad_rnn.save": Call(G("tinygrad_rnn.serialization", "save"), {}, str(marker)),
        "tinygrad_rnn._torch_format._Loader": Call(G("tinygrad_rnn._torch_format", "_Loader"), "zip", 1),
        "argparse.Namespace": Call(G("argparse", "Namespace")),
        "main_class": Call(G("__main__", "Evil")),
        "module_class": Call(G("torch.nn.modules.linear", "Linear"), 3, 2),
        "in_storage_slot": v2(Call(G("os", "system"), cmd)),
        "in_pid": Pid(("storage", Call(G("os", "system"), cmd), "0", "cpu", 4)),
        "in_dict_key": {Call(G("os", "system"), cmd): 1},
        "in_build_state": Build(OD(), {"_metadata": Call(G("os", "system"), cmd)}),
        "in_hooks": v2(pid(), 0, (4,), (1,), False, OD({0: G("os", "system")})),
        "as_rebuild_func": Call(
            G("torch._tensor", "_rebuild_from_type_v2"), G("os", "system"), G("torch", "Tensor"), (cmd,), None
        ),
        "bare_global": G("os", "system"),
    }


PAYLOAD_NAMES = list(payloads("m", "f"))


@pytest.mark.parametrize("fmt", ["zip", "zip_proto4", "legacy"])
@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_hostile_globals_are_refused_and_nothing_runs(tmp_path, name, fmt):
    marker, folder = tmp_path / "pwned", tmp_path / "keep"
    folder.mkdir()
    obj = OD({"w": v2(pid()), "evil": payloads(marker, folder)[name]})
    if fmt == "legacy":
        path = legacy_file(tmp_path / "evil.pt", as_legacy(obj))
    else:
        path = torch_zip(tmp_path / "evil.pt", obj, proto=4 if fmt == "zip_proto4" else 2)
    msg = refused(path, "evil.pt", "refuses global")
    assert not marker.exists() and folder.is_dir()
    assert len(msg) < 600


def test_the_payloads_are_live_under_plain_pickle(tmp_path):
    # Control: the same bytes do run code under pickle.loads; tg.load refuses them (test above).
    marker = tmp_path / "pwned"
    pickle.loads(asm(payloads(marker, tmp_path)["builtins.open"]))
    assert marker.exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("proto", [2, 3, 4, 5])
@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_pickle_dumps_payloads(tmp_path, proto, fmt):
    marker = tmp_path / "pwned"
    pkl = pickle.dumps({"w": _Evil(marker)}, protocol=proto)
    path = torch_zip(tmp_path / "e.pt", pkl) if fmt == "zip" else legacy_file(tmp_path / "e.pt", pkl)
    refused(path, "refuses global", "system")
    assert not marker.exists()


@pytest.mark.parametrize(
    "name, words",
    [
        ("ComplexFloatStorage", "complex"),
        ("ComplexDoubleStorage", "complex"),
        ("QInt8Storage", "quantized"),
        ("complex64", "dtype torch.complex64"),
        ("float8_e4m3fn", "dtype torch.float8_e4m3fn"),
        ("qint8", "dtype torch.qint8"),
    ],
)
def test_unsupported_dtypes_are_named(tmp_path, name, words):
    g = G("torch", name)
    obj = (
        v2(Pid(("storage", g, "0", "cpu", 2)))
        if name.endswith("Storage")
        else v3(pid(numel=16, stype="UntypedStorage", module="torch.storage"), name)
    )
    refused(torch_zip(tmp_path / "c.pt", obj), "refuses global torch." + name, words)


@pytest.mark.parametrize(
    "module, name, words",
    [
        ("numpy.core.multiarray", "_reconstruct", "NumPy"),
        ("argparse", "Namespace", "vars(args)"),
        ("__main__", "Net", "state_dict()"),
        ("torch.nn.modules.rnn", "LSTM", "state_dict()"),
        ("torch._utils", "_rebuild_sparse_tensor", "sparse"),
        ("torch._utils", "_rebuild_qtensor", "quantized"),
    ],
)
def test_refusals_carry_a_hint(tmp_path, module, name, words):
    refused(torch_zip(tmp_path / "h.pt", Call(G(module, name))), f"refuses global {module}.{name}", words)


def test_stack_global_with_non_strings_is_refused(tmp_path):
    pkl = b"\x80\x04K\x01K\x02\x93."
    refused(torch_zip(tmp_path / "s.pt", pkl))


def test_long_global_names_are_cut_in_the_message(tmp_path):
    msg = refused(torch_zip(tmp_path / "l.pt", Call(G("os" * 5000, "system" * 5000))), "refuses global")
    assert len(msg) < 600


# ---- (c) hostile: opcodes --------------------------------------------------------------------------------


def _x(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def opcode_cases(marker):
    cmd = _x(f"touch {marker}")
    return {
        "INST": (b"\x80\x02(" + cmd + b"ios\nsystem\n.", "INST"),
        "OBJ": (b"\x80\x02(ccollections\nOrderedDict\no.", "OBJ"),
        "OBJ_os_system": (b"\x80\x02(cos\nsystem\n" + cmd + b"o.", "refuses global os.system"),
        "NEWOBJ": (b"\x80\x02cos\nsystem\n" + cmd + b"\x85\x81.", "refuses global os.system"),
        "NEWOBJ_allowed_class": (b"\x80\x02ccollections\nOrderedDict\n)\x81.", "NEWOBJ"),
        "NEWOBJ_EX": (b"\x80\x04ccollections\nOrderedDict\n)}\x92.", "NEWOBJ_EX"),
        "EXT1": (b"\x80\x02\x82\xf0" + cmd + b"\x85R.", "EXT1"),
        "EXT2": (b"\x80\x02\x83\xf0\x00" + cmd + b"\x85R.", "EXT2"),
        "EXT4": (b"\x80\x02\x84\xf0\x00\x00\x00" + cmd + b"\x85R.", "EXT4"),
        "PERSID": (b"\x80\x02P0\n.", "PERSID"),
        "INT": (b"\x80\x02I1\n.", "INT"),
        "LONG": (b"\x80\x02L1\n.", "LONG"),
        "FLOAT": (b"\x80\x02F1.5\n.", "FLOAT"),
        "STRING": (b"\x80\x02S'a'\n.", "STRING"),
        "UNICODE": (b"\x80\x02Va\n.", "UNICODE"),
        "GET": (b"\x80\x02Np0\n0g0\n.", "PUT"),
        "DICT_text_keys": (b"\x80\x02(Va\nK\x01d.", "UNICODE"),
        "LONG4": (b"\x80\x02\x8b\x01\x00\x00\x00\x01.", "LONG4"),
        "LONG1_over_64_bits": (b"\x80\x02\x8a\x09" + b"\xff" * 8 + b"\x01.", "64 bits"),
        "LONG1_huge_negative": (b"\x80\x02\x8a\x09" + b"\x00" * 8 + b"\x80.", "64 bits"),
        "NEXT_BUFFER": (b"\x80\x05\x97.", "NEXT_BUFFER"),
        "READONLY_BUFFER": (b"\x80\x05\x98.", "READONLY_BUFFER"),
        "BYTEARRAY8": (b"\x80\x05\x96\x01\x00\x00\x00\x00\x00\x00\x00a.", "BYTEARRAY8"),
        "protocol_0": (pickle.dumps({"a": 1}, protocol=0), "protocol 2 to 5"),
        "protocol_1": (b"\x80\x01N.", "protocol 2 to 5"),
        "protocol_6": (b"\x80\x06N.", "protocol 2 to 5"),
        "no_proto": (b"N.", "protocol 2 to 5"),
        "unknown_opcode": (b"\x80\x02\xff.", "not a valid pickle"),
        "truncated_string": (b"\x80\x02X\x10\x00\x00\x00abc", "not a valid pickle"),
        "no_stop": (b"\x80\x02N", "not a valid pickle"),
        "empty": (b"", "not a valid pickle"),
        "trailing_bytes": (b"\x80\x02N.junk", "after the pickle's STOP"),
        "memo_far_index": (b"\x80\x02Nr\xff\xff\xff\xff.", "memo index"),
        "memo_skip": (b"\x80\x02Nq\x05.", "memo index"),
        "frame_too_long": (b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"N.", "frame"),
        "unicode8_too_long": (b"\x80\x04\x8d" + struct.pack("<Q", 2**40) + b"abc.", "not a valid pickle"),
        "bytes8_too_long": (b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc.", "not a valid pickle"),
        "get_missing": (b"\x80\x02h\x00.", "could not be unpickled"),
        "pop_empty": (b"\x80\x020.", "could not be unpickled"),
        "setitem_no_dict": (b"\x80\x02K\x01K\x02K\x03s.", "could not be unpickled"),
        "reduce_non_callable": (b"\x80\x02" + _x("x") + b")R.", "could not be unpickled"),
        "build_on_dict": (b"\x80\x02}}K\x01K\x02sb.", "could not be unpickled"),
        "build_slots_on_list": (b"\x80\x02]N}" + _x("append") + b"K\x01s\x86b.", "could not be unpickled"),
        "mark_unbalanced": (b"\x80\x02(t(.", "could not be unpickled"),
    }


OPCODE_NAMES = list(opcode_cases("m"))


# In the legacy format the next pickle follows the object's STOP: trailing bytes are not a case there.
@pytest.mark.parametrize(
    "name, fmt", [(n, f) for n in OPCODE_NAMES for f in ("zip", "legacy") if (n, f) != ("trailing_bytes", "legacy")]
)
def test_hostile_opcodes(tmp_path, name, fmt):
    marker = tmp_path / "pwned"
    pkl, words = opcode_cases(marker)[name]
    path = torch_zip(tmp_path / "o.pt", pkl) if fmt == "zip" else legacy_file(tmp_path / "o.pt", pkl)
    msg = refused(path, words)
    assert not marker.exists()
    if name in ("INST", "OBJ", "EXT1", "EXT2", "EXT4", "PERSID", "NEWOBJ_EX", "LONG4"):
        assert f"refuses pickle opcode {words}" in msg


def test_ext_opcodes_are_refused_even_with_a_registered_extension(tmp_path):
    # EXT resolves through copyreg's registry and its cache, which can bypass find_class entirely.
    marker = tmp_path / "pwned"
    copyreg.add_extension("os", "system", 0xF0)
    try:
        pickle.loads(b"\x80\x02\x82\xf0.")  # fills copyreg's extension cache with os.system
        pkl = b"\x80\x02\x82\xf0" + _x(f"touch {marker}") + b"\x85R."
        refused(torch_zip(tmp_path / "x.pt", pkl), "refuses pickle opcode EXT1")
        assert not marker.exists()
    finally:
        copyreg.remove_extension("os", "system", 0xF0)


def test_memo_index_is_refused_before_any_allocation(tmp_path):
    pkl = b"\x80\x02N" + b"r\xff\xff\xff\x7f" + b"."  # LONG_BINPUT 2**31-1: the unpickler would size its memo
    t = time.monotonic()
    refused(torch_zip(tmp_path / "m.pt", pkl), "memo index")
    assert time.monotonic() - t < 2


def test_op_count_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(_torch_pickle, "MAX_PICKLE_OPS", 1000)
    ok = b"\x80\x02" + b"N0" * 400 + b"N."
    assert tg.load(torch_zip(tmp_path / "ok.pt", ok)) is None
    many = b"\x80\x02" + b"N0" * 600 + b"N."
    refused(torch_zip(tmp_path / "many.pt", many), "more than 1000 pickle opcodes")
    refused(legacy_file(tmp_path / "many_legacy.pt", many), "more than 1000 pickle opcodes")


def test_pickle_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(_torch_format, "MAX_PICKLE_BYTES", 1000)
    big = asm(["x" * 2000])
    refused(torch_zip(tmp_path / "big.pt", big), "data.pkl holds", "limit is 1000")
    refused(legacy_file(tmp_path / "big_legacy.pt", big), "the object pickle is longer than the 1000-byte limit")


def test_oversized_data_pkl_is_refused_before_reading(tmp_path, monkeypatch):
    path = torch_zip(
        tmp_path / "huge.pt", b"\x80\x02" + b"N0" * ((64 << 19) + 1) + b"N.", compression=zipfile.ZIP_DEFLATED
    )
    assert path.stat().st_size < 1 << 20
    calls = []
    real = _torch_format._npz.read_member
    monkeypatch.setattr(
        _torch_format._npz, "read_member", lambda zf, info, **k: calls.append(info.filename) or real(zf, info, **k)
    )
    refused(path, "data.pkl holds", f"limit is {64 << 20}")
    assert not any(c.endswith("data.pkl") for c in calls)


# ---- (c) hostile: tensor records -----------------------------------------------------------------------

BAD_VIEWS = [
    ("offset_past_end", 4, (1,), (1,), "reaches element 4"),
    ("size_past_end", 0, (5,), (1,), "reaches element 4"),
    ("offset_plus_size", 3, (2,), (1,), "reaches element 4"),
    ("rows_past_end", 0, (2, 2), (3, 1), "reaches element 4"),
    ("stride_past_end", 0, (2,), (4,), "reaches element 4"),
    ("offset_matrix", 1, (2, 2), (2, 1), "reaches element 4"),
    ("huge_offset", 2**62, (1,), (1,), "reaches element"),
    ("offset_2_64_minus_1", 2**64 - 1, (1,), (1,), "reaches element"),
    ("offset_wraps_int64", 2**63, (2,), (1,), "reaches element"),
    ("huge_stride", 0, (3,), (2**63,), "reaches element"),
    ("stride_times_size_overflows", 0, (2**32, 2**32), (2**32, 1), "reaches element"),
    ("huge_broadcast", 0, (2**32, 2**32), (0, 0), "more than"),
    ("wide_broadcast", 0, (2**40,), (0,), "more than"),
    ("empty_but_huge", 0, (0, 2**62), (1, 1), "too large for an array"),
    ("empty_but_huge_product", 0, (2**40, 0, 2**40), (1, 1, 1), "too large for an array"),
    ("negative_offset", -1, (1,), (1,), "non-negative"),
    ("negative_size", 0, (-1,), (1,), "non-negative"),
    ("negative_stride", 3, (2,), (-1,), "non-negative"),
    ("negative_stride_in_bounds", 0, (1,), (-1,), "non-negative"),
    ("length_mismatch", 0, (2,), (1, 1), "differ in length"),
    ("size_list", 0, [4], (1,), "tuple"),
    ("stride_list", 0, (4,), [1], "tuple"),
    ("size_int", 0, 4, (1,), "tuple"),
    ("size_none", 0, None, (1,), "tuple"),
    ("size_float", 0, (4.0,), (1,), "non-negative int"),
    ("size_bool", 0, (True,), (1,), "non-negative int"),
    ("offset_bool", True, (1,), (1,), "non-negative int"),
    ("offset_float", 0.0, (1,), (1,), "non-negative int"),
    ("offset_str", "0", (1,), (1,), "non-negative int"),
    ("too_many_dims", 0, (1,) * 65, (1,) * 65, "at most 64"),
    ("nested_size", 0, ((4,),), (1,), "non-negative int"),
]


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("case", BAD_VIEWS, ids=[c[0] for c in BAD_VIEWS])
def test_out_of_bounds_views_are_refused(tmp_path, case, fmt):
    _, offset, size, stride, words = case
    z, leg = both_formats(tmp_path, OD({"w": v2(pid(), offset, size, stride)}))
    t = time.monotonic()
    refused(z if fmt == "zip" else leg, words)
    assert time.monotonic() - t < 2


@pytest.mark.parametrize(
    "value",
    [Raw(b"]" * 100_000 + b"a" * 99_999), list(range(300_000)), "x" * 1_000_000, {i: i for i in range(100_000)}],
    ids=["deep_list", "long_list", "long_str", "big_dict"],
)
@pytest.mark.parametrize("slot", ["offset", "size", "stride", "requires_grad", "hooks", "metadata"])
def test_huge_or_deep_values_in_a_record_give_short_messages(tmp_path, value, slot):
    args = {"offset": 0, "size": (4,), "stride": (1,), "requires_grad": False, "hooks": OD(), "metadata": None}
    args[slot] = value
    path = torch_zip(tmp_path / "h.pt", OD({"w": Call(G("torch._utils", "_rebuild_tensor_v2"), pid(), *args.values())}))
    t = time.monotonic()
    msg = refused(path)
    assert len(msg) < 400 and time.monotonic() - t < 5


def test_view_bounds_are_checked_in_the_views_dtype(tmp_path):
    # 10 bytes of untyped storage hold two int32: a third would read past them.
    raw = bytes(range(10))
    ok = v3(pid(numel=10, stype="UntypedStorage", module="torch.storage"), "int32", 0, (2,), (1,))
    assert tg.load(torch_zip(tmp_path / "ok.pt", ok, {"0": raw})).shape == (2,)
    bad = v3(pid(numel=10, stype="UntypedStorage", module="torch.storage"), "int32", 0, (3,), (1,))
    refused(torch_zip(tmp_path / "bad.pt", bad, {"0": raw}), "reaches element 2", "holds 2 elements")


UNTYPED = pid(numel=16, stype="UntypedStorage", module="torch.storage")
P = G("torch._utils", "_rebuild_parameter")
FROM_TYPE = G("torch._tensor", "_rebuild_from_type_v2")
V2 = G("torch._utils", "_rebuild_tensor_v2")
ARGS = (pid(), 0, (4,), (1,), False, OD())
BAD_RECORDS = {
    "v2_too_few_args": (Call(V2, pid(), 0, (4,), (1,), False), "called with 5 arguments; it takes 6 or 7"),
    "v2_too_many_args": (v2(pid(), 0, (4,), (1,), False, None, None, None), "called with 8 arguments"),
    "v2_no_args": (Call(V2), "called with 0 arguments"),
    "v2_storage_str": (v2("0"), "storage is '0', not a storage"),
    "v2_storage_int": (v2(0), "not a storage"),
    "v2_storage_tensor": (v2(v2(pid())), "not a storage"),
    "v2_storage_type_not_instance": (v2(G("torch", "FloatStorage")), "not a storage"),
    "v2_requires_grad_int": (v2(pid(), 0, (4,), (1,), 1), "requires_grad must be a bool"),
    "v2_requires_grad_on_ints": (v2(pid(stype="IntStorage"), 0, (4,), (1,), True), "int32 tensor cannot require"),
    "v2_hooks_nonempty": (v2(pid(), 0, (4,), (1,), False, OD({"h": 1})), "hooks must be an empty"),
    "v2_hooks_list": (v2(pid(), 0, (4,), (1,), False, []), "hooks must be an empty"),
    "v2_hooks_none": (v2(pid(), 0, (4,), (1,), False, Raw(b"N")), "hooks must be an empty"),
    "v2_metadata_conj": (v2(pid(), 0, (4,), (1,), False, None, {"conj": True}), "conjugate bit"),
    "v2_metadata_unknown": (v2(pid(), 0, (4,), (1,), False, None, {"evil": True}), "metadata"),
    "v2_metadata_not_dict": (v2(pid(), 0, (4,), (1,), False, None, [1]), "metadata"),
    "v2_metadata_neg_int": (v2(pid(), 0, (4,), (1,), False, None, {"neg": 1}), "neg bit must be a bool"),
    "v2_neg_on_bool": (
        v2(pid(numel=16, stype="BoolStorage"), 0, (4,), (1,), False, None, {"neg": True}),
        "negated view",
    ),
    "v2_on_untyped": (v2(UNTYPED), "refers to an untyped storage"),
    "v3_on_typed": (v3(pid(), "float32"), "refers to a typed storage"),
    "v3_dtype_str": (
        Call(G("torch._utils", "_rebuild_tensor_v3"), UNTYPED, 0, (4,), (1,), False, OD(), "float32"),
        "not a dtype",
    ),
    "v3_dtype_storage_type": (
        Call(G("torch._utils", "_rebuild_tensor_v3"), UNTYPED, 0, (4,), (1,), False, OD(), G("torch", "FloatStorage")),
        "not a dtype",
    ),
    "v3_too_few_args": (
        Call(G("torch._utils", "_rebuild_tensor_v3"), UNTYPED, 0, (4,), (1,), False, OD()),
        "it takes 7 or 8",
    ),
    "old_rebuild_three_args": (Call(G("torch._utils", "_rebuild_tensor"), pid(), 0, (4,)), "it takes 4"),
    "param_of_str": (Call(P, "x", True, OD()), "Parameter's data is 'x'"),
    "param_of_param": (Call(P, Call(P, v2(pid()), True, OD()), True, OD()), "not a tensor record"),
    "param_rg_str": (Call(P, v2(pid()), "yes", OD()), "requires_grad must be a bool"),
    "param_int_requires_grad": (
        Call(P, v2(pid(numel=2, stype="LongStorage"), 0, (2,), (1,)), True, OD()),
        "int64 Parameter",
    ),
    "param_hooks": (Call(P, v2(pid()), True, OD({1: 2})), "hooks must be an empty"),
    "param_two_args": (Call(P, v2(pid()), True), "it takes 3"),
    "param_state_three_args": (
        Call(G("torch._utils", "_rebuild_parameter_with_state"), v2(pid()), True, OD()),
        "it takes 4",
    ),
    "from_type_odict_func": (
        Call(FROM_TYPE, G("collections", "OrderedDict"), G("torch", "Tensor"), (), None),
        "not a tensor rebuild function",
    ),
    "from_type_param_func": (
        Call(FROM_TYPE, P, G("torch", "Tensor"), (v2(pid()), True, OD()), None),
        "not a tensor rebuild function",
    ),
    "from_type_new_type_size": (Call(FROM_TYPE, V2, G("torch", "Size"), ARGS, None), "not a Tensor or Parameter"),
    "from_type_args_list": (Call(FROM_TYPE, V2, G("torch", "Tensor"), list(ARGS), None), "not a tuple"),
    "from_type_bad_inner": (
        Call(FROM_TYPE, V2, G("torch", "Tensor"), (pid(), 9, (4,), (1,), False, OD()), None),
        "reaches element 12",
    ),
    "odict_args": (Call(G("collections", "OrderedDict"), 1, 2), "OrderedDict called with"),
    "odict_bad_pairs": (Call(G("collections", "OrderedDict"), [1]), "OrderedDict called with"),
    "size_of_str": (Call(G("torch", "Size"), ("a",)), "torch.Size must be"),
    "size_negative": (Call(G("torch", "Size"), (-1,)), "non-negative"),
    "size_two_args": (Call(G("torch", "Size"), (1,), (2,)), "torch.Size called with 2 arguments"),
    "set_of_int": (Call(G("builtins", "set"), 1), "builtins.set called with"),
    "set_two_args": (Call(G("builtins", "set"), [1], [2]), "builtins.set called with"),
    "encode_utf8": (Call(G("_codecs", "encode"), "x", "utf-8"), "only (text, 'latin1')"),
    "encode_bytes": (Call(G("_codecs", "encode"), b"x", "latin1"), "only (text, 'latin1')"),
    "encode_one_arg": (Call(G("_codecs", "encode"), "x"), "only (text, 'latin1')"),
    "call_storage_type": (Call(G("torch", "FloatStorage"), 4), "refuses calling torch.FloatStorage"),
    "call_untyped_storage": (
        Call(G("torch.storage", "UntypedStorage"), 4),
        "refuses calling torch.storage.UntypedStorage",
    ),
    "call_dtype": (Call(G("torch", "float32"), 4), "refuses calling torch.float32"),
    "call_tensor_type": (Call(G("torch", "Tensor"), [1.0]), "refuses calling torch.Tensor"),
    "call_parameter_type": (
        Call(G("torch.nn.parameter", "Parameter"), v2(pid())),
        "refuses calling torch.nn.parameter.Parameter",
    ),
    "build_odict_attr": (Build(OD(), {"x": 1}), "refuses BUILD on an OrderedDict"),
    "build_odict_slots": (
        Build(OD(), (None, {"__class__": G("collections", "OrderedDict")})),
        "refuses BUILD on an OrderedDict",
    ),
    "build_odict_list_state": (Build(OD(), [1]), "refuses BUILD on an OrderedDict"),
    "build_rebuild_func_defaults": (
        Build(V2, (None, {"__defaults__": (1,)})),
        "BUILD on torch._utils._rebuild_tensor_v2",
    ),
    "build_rebuild_func_dict": (Build(V2, {"__code__": 1}), "BUILD on torch._utils._rebuild_tensor_v2"),
    "build_storage_type": (Build(G("torch", "FloatStorage"), {"dtype": 1}), "BUILD on torch.FloatStorage"),
    "build_tensor": (Build(v2(pid()), {"data": "x"}), "BUILD on a tensor"),
    "build_storage": (Build(pid(), {"nbytes": 10**9}), "BUILD on a storage"),
    "build_dtype": (Build(G("torch", "float32"), {"itemsize": 1}), "BUILD on torch.float32"),
}


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("name", list(BAD_RECORDS))
def test_bad_records_are_refused(tmp_path, name, fmt):
    record, words = BAD_RECORDS[name]
    z, leg = both_formats(tmp_path, OD({"w": record}))
    refused(z if fmt == "zip" else leg, words)


def test_stand_ins_are_fresh_for_every_load(tmp_path):
    # BUILD cannot change the stand-ins: they have no attributes to set, and each load makes its own.
    refused(torch_zip(tmp_path / "b.pt", [Build(G("torch._utils", "_rebuild_tensor_v2"), (None, {"name": "x"})), 1]))
    assert_tensor(tg.load(torch_zip(tmp_path / "ok.pt", v2(pid()))), F32)
    assert not hasattr(collections.OrderedDict, "name")


# ---- (c) hostile: storages and persistent ids --------------------------------------------------------------

BAD_PIDS = {
    "missing_key": (pid("1"), "no member 'archive/data/1'", "'0' is listed but never used"),
    "key_dotdot": (pid("../0"), "key '../0'"),
    "key_slash": (pid("data/0"), "key 'data/0'"),
    "key_empty": (pid(""), "key ''"),
    "key_int": (pid(0), "key 0"),
    "key_long": (pid("1" * 101), "key '111"),
    "numel_too_big": (
        pid(numel=5),
        "declares 5 elements of torch.FloatStorage (20 bytes) but member",
        "runs past the end",
    ),
    "numel_too_small": (pid(numel=3), "declares 3 elements", "reaches element 3"),
    "numel_huge": (pid(numel=2**62), "holds 16 bytes", "runs past the end"),
    "numel_negative": (pid(numel=-1), "element count must be a non-negative int"),
    "numel_float": (pid(numel=4.0), "element count must be a non-negative int"),
    "numel_bool": (pid(numel=True), "element count must be a non-negative int"),
    "location_int": (pid(location=5), "location 5"),
    "location_long": (pid(location="c" * 200), "location 'ccc"),
    "not_a_tuple": (Pid("0"), "refuses persistent id '0'"),
    "a_list": (Pid(["storage", G("torch", "FloatStorage"), "0", "cpu", 4]), "refuses persistent id ['storage'"),
    "empty_tuple": (Pid(()), "refuses persistent id ()"),
    "module_kind": (Pid(("module", G("torch", "FloatStorage"), "x.py", "src")), "pickled Module", "state_dict()"),
    "other_kind": (Pid(("tensor", 1)), "persistent id of kind 'tensor'"),
    "kind_int": (Pid((1, 2)), "persistent id of kind 1"),
    "four_fields": (Pid(("storage", G("torch", "FloatStorage"), "0", "cpu")), "has 4 fields"),
    "seven_fields": (Pid(("storage", G("torch", "FloatStorage"), "0", "cpu", 4, None, None)), "has 7 fields"),
    "type_str": (Pid(("storage", "FloatStorage", "0", "cpu", 4)), "not a storage type"),
    "type_tensor_marker": (Pid(("storage", G("torch", "Tensor"), "0", "cpu", 4)), "not a storage type"),
    "type_dtype_marker": (Pid(("storage", G("torch", "float32"), "0", "cpu", 4)), "not a storage type"),
    "type_odict": (Pid(("storage", OD(), "0", "cpu", 4)), "not a storage type"),
}


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("name", list(BAD_PIDS))
def test_bad_persistent_ids(tmp_path, name, fmt):
    # Entries: (id, words for both formats) or (id, zip words, legacy words), where the legacy
    # format finds a missing or mis-sized storage while laying out its data section instead.
    p, *words = BAD_PIDS[name]
    if fmt == "zip":
        refused(torch_zip(tmp_path / "p.pt", OD({"w": v2(p)})), words[0])
    else:
        refused(legacy_file(tmp_path / "p.pt", as_legacy(OD({"w": v2(p)}))), words[-1])


def test_same_key_declared_twice_differently(tmp_path):
    same_size_other_type = OD({"a": v2(pid()), "b": v2(pid(stype="IntStorage"))})
    other_size = OD({"a": v2(pid()), "b": v2(pid(numel=2), 0, (2,), (1,))})
    for obj in (same_size_other_type, other_size):
        for path in both_formats(tmp_path, obj):
            refused(path, "declared twice")
    cuda_alias = OD({"a": v2(pid()), "b": v2(pid(module="torch.cuda"))})  # the same type from torch 1.x
    for path in both_formats(tmp_path, cuda_alias):
        back = tg.load(path)
        assert_tensor(back["b"], F32)


def test_bare_storages_and_markers_as_values(tmp_path):
    for value, words in [
        (pid(), "a bare storage"),
        (G("torch", "FloatStorage"), "torch.FloatStorage as a value"),
        (G("torch", "float32"), "torch.float32"),
        (G("torch", "Tensor"), "torch.Tensor"),
        (G("torch._utils", "_rebuild_tensor_v2"), "torch._utils._rebuild_tensor_v2"),
        ({G("torch", "float32"): 1}, "dict key"),
        (Call(G("builtins", "set"), [G("torch", "float32")]), "set item"),
        ({(1, (2, G("torch", "Size"))): 1}, "dict key"),
    ]:
        refused(torch_zip(tmp_path / "v.pt", {"x": value}), words)


def test_unhashable_keys_are_refused(tmp_path):
    tensor = asm(v2(pid()))[2:-1]
    for pkl in (b"\x80\x02}" + tensor + b"K\x01s.", b"\x80\x02}}K\x01s.", b"\x80\x02\x8f(" + tensor + b"\x90."):
        refused(torch_zip(tmp_path / "k.pt", pkl), "could not be unpickled")  # {tensor: 1}, {{}: 1}, set


def test_corrupt_or_truncated_storage_member(tmp_path):
    path = torch_zip(tmp_path / "c.pt", v2(pid()))
    data = bytearray(path.read_bytes())
    pos = bytes(data).index(F32.tobytes())
    data[pos] ^= 0xFF  # the CRC no longer matches
    path.write_bytes(bytes(data))
    refused(path, "member 'archive/data/0' is corrupt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(bytes(data[: pos + 4]))
    refused(cut)


def test_storage_member_zip_bomb_is_refused(tmp_path):
    raw = bytes(1 << 22)
    obj = v2(pid(numel=1 << 20), 0, (1 << 20,), (1,))
    path = torch_zip(tmp_path / "b.pt", obj, {"0": raw}, compression=zipfile.ZIP_DEFLATED)
    assert tg.load(path).shape == (1 << 20,)  # honest: loads
    data = bytearray(path.read_bytes())
    pos = data.index(b"PK\x01\x02")  # walk the central directory to the storage's entry
    while data[pos + 46 : pos + 46 + 14] != b"archive/data/0":
        pos = data.index(b"PK\x01\x02", pos + 4)
    struct.pack_into("<I", data, pos + 24, 2**31)  # declare 2 GiB from the same few compressed bytes
    path.write_bytes(bytes(data))
    refused(path, "more than deflate can produce")


def test_many_overlapping_views_exceed_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(_torch_format, "MIN_BUDGET", 1 << 20)
    monkeypatch.setattr(_torch_format, "MAX_EXPANSION", 1)
    n = 1 << 16  # a 256 KiB storage and 40 distinct views of nearly all of it
    raw = np.zeros(n, np.float32).tobytes()
    obj = [v2(pid(numel=n), i, (n - 40,), (1,)) for i in range(40)]
    refused(torch_zip(tmp_path / "v.pt", obj, {"0": raw}), "would hold more than")
    same = [v2(pid(numel=n), 0, (n - 40,), (1,)) for _ in range(400)]  # identical views: built once
    back = tg.load(torch_zip(tmp_path / "same.pt", same, {"0": raw}))
    assert len(back) == 400 and all(_same_memory(back[0], t) for t in back)


# ---- (c) hostile: structure ----------------------------------------------------------------------------


def _nested_bytes(kind, depth):
    if kind == "list":
        return b"\x80\x02" + b"]" * depth + b"N" + b"a" * depth + b"."  # [[...[None]...]]
    if kind == "tuple":
        return b"\x80\x02N" + b"\x85" * depth + b"."
    return b"\x80\x02" + b"}K\x00" * depth + b"N" + b"s" * depth + b"."  # {0: {0: ... None}}


@pytest.mark.parametrize("kind", ["list", "tuple", "dict"])
@pytest.mark.parametrize("depth, ok", [(100, True), (101, False), (200_000, False)])
def test_nesting_limit(tmp_path, kind, depth, ok):
    path = torch_zip(tmp_path / "n.pt", _nested_bytes(kind, depth))
    t = time.monotonic()
    if ok:
        back = tg.load(path)
        for _ in range(depth):
            back = back[0]
        assert back is None
    else:
        refused(path, "nests more than 100")
    assert time.monotonic() - t < 10


@pytest.mark.parametrize(
    "pkl",
    [
        b"\x80\x02]q\x00h\x00a.",  # L.append(L)
        b"\x80\x02}q\x00K\x01h\x00s.",  # d[1] = d
        b"\x80\x02]q\x00h\x00\x85a.",  # L.append((L,))
        b"\x80\x02]q\x00]q\x01h\x00ah\x01a.",  # L1 = [L]; L.append(L1)
        b"\x80\x02ccollections\nOrderedDict\n)Rq\x00K\x01h\x00s.",  # od[1] = od
    ],
    ids=["list", "dict", "through_tuple", "two_lists", "ordered_dict"],
)
def test_cycles_are_refused(tmp_path, pkl):
    refused(torch_zip(tmp_path / "c.pt", pkl), "cycle")


# ---- (c) hostile: archives -----------------------------------------------------------------------------


def test_torchscript_archive(tmp_path):
    path = torch_zip(
        tmp_path / "j.pt", v2(pid()), extra=[("archive/constants.pkl", asm(None)), ("archive/code/__torch__.py", b"")]
    )
    refused(path, "TorchScript")


def test_two_archive_folders(tmp_path):
    path = torch_zip(tmp_path / "two.pt", v2(pid()), extra=[("other/data.pkl", asm(None))])
    refused(path, "2 PyTorch archives")


@pytest.mark.parametrize(
    "name", ["other/x", "archive/../x", "archive/./x", "archive//x", "/etc/passwd", "archive/a\\b", "x"]
)
def test_odd_member_names(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    path = torch_zip(tmp_path / "o.pt", v2(pid()), extra=[(name, b"x")])
    refused(path, "unexpected member")
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["o.pt"])


@pytest.mark.parametrize("order", [b"middle", b"", b"LITTLE", b"little\n", b"x" * 17])
def test_bad_byteorder_record(tmp_path, order):
    refused(torch_zip(tmp_path / "b.pt", v2(pid()), byteorder=order), "byteorder")


def test_zip_without_data_pkl_is_not_torch(tmp_path):
    path = write_zip(tmp_path / "z.pt", [("archive/data/0", b"x"), ("archive/version", b"3")])
    refused(path, "without the tinygrad_rnn manifest", "torch.save")


def test_encrypted_and_odd_compression(tmp_path):
    path = torch_zip(tmp_path / "e.pt", v2(pid()))
    data = bytearray(path.read_bytes())
    pos = bytes(data).index(b"PK\x01\x02")
    struct.pack_into("<H", data, pos + 8, 1)  # data.pkl's central entry: encrypted
    path.write_bytes(bytes(data))
    refused(path, "encrypted")


# ---- (c) hostile: the legacy format ---------------------------------------------------------------------


def test_legacy_layout_errors(tmp_path):
    obj = OD({"w": v2(pid(legacy=True))})
    cases = {
        "listed_not_used": (dict(storages={"0": (4, F32.tobytes()), "9": (1, b"\x00" * 4)}), "'9' is listed"),
        "used_not_listed": (dict(storages={}, keys=[]), "'0' is listed but never used, or used but not listed"),
        "duplicate_keys": (dict(keys=["0", "0"]), "distinct strings"),
        "keys_not_list": (dict(keys=pickle.dumps({"0": 1}, 2)), "list of distinct strings"),
        "keys_ints": (dict(keys=pickle.dumps([0], 2)), "list of distinct strings"),
        "header_mismatch": (dict(storages={"0": (5, F32.tobytes())}), "holds 5 elements"),
        "truncated": (dict(storages={"0": (4, F32.tobytes()[:10])}), "runs past the end"),
        "trailing": (dict(tail=b"extra"), "5 bytes follow the last storage"),
        "version": (dict(version=1000), "protocol version 1000"),
        "version_str": (dict(version="1001"), "protocol version '1001'"),
        "sys_info_global": (dict(sys_info=asm(Call(G("os", "system"), "true"))), "refuses global os.system"),
        "sys_info_pid": (dict(sys_info=asm(pid(legacy=True))), "persistent id outside"),
        "keys_global": (dict(keys=asm(Call(G("os", "system"), "true"))), "refuses global os.system"),
        "keys_pid": (dict(keys=asm([pid(legacy=True)])), "persistent id outside"),
    }
    for name, (kw, words) in cases.items():
        path = legacy_file(tmp_path / f"{name}.pt", obj, **kw)
        refused(path, words)


def test_legacy_view_metadata_and_zip_style_ids(tmp_path):
    view = Pid(("storage", G("torch", "FloatStorage"), "0", "cpu", 4, ("0", 0, 4)))
    refused(legacy_file(tmp_path / "v.pt", v2(view)), "storage view")
    refused(legacy_file(tmp_path / "z.pt", v2(pid())), "5 fields", "legacy format has 6")
    refused(torch_zip(tmp_path / "l.pt", v2(pid(legacy=True))), "6 fields", "zip format has 5")


def test_legacy_wrong_magic_or_not_torch(tmp_path):
    wrong = legacy_file(tmp_path / "w.pt", v2(pid(legacy=True)), magic=MAGIC + 1)
    refused(wrong, "a pickle, but not a torch.save checkpoint")
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    refused(plain, "never unpickles arbitrary objects")
    tricky = tmp_path / "t.pt"  # the magic bytes, then something else than STOP
    tricky.write_bytes(b"\x80\x02\x8a\x0a" + MAGIC.to_bytes(10, "little") + b"\x85.")
    refused(tricky, "wrong magic number")


def test_tar_format_is_refused(tmp_path):
    import tarfile

    path = tmp_path / "old.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("pickle")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"N."))
    refused(path, "tar archive", "re-save")


# ---- (a) files written by torch at test time -------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def torch_save(torch, obj, path, fmt="zip", **kw):
    torch.save(obj, path, _use_new_zipfile_serialization=fmt == "zip", **kw)
    return path


def assert_same_as_torch(torch, ours, theirs):
    if isinstance(theirs, torch.Tensor):
        want = theirs.detach().resolve_neg()
        want = want.float() if want.dtype == torch.bfloat16 else want
        assert_tensor(ours, want.numpy(), theirs.requires_grad)
        assert isinstance(ours, tg.nn.Parameter) is isinstance(theirs, torch.nn.Parameter)
    elif isinstance(theirs, dict):
        assert type(ours) is (collections.OrderedDict if isinstance(theirs, collections.OrderedDict) else dict)
        assert list(ours) == list(theirs)
        for k in theirs:
            assert_same_as_torch(torch, ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is (tuple if isinstance(theirs, tuple) else list) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same_as_torch(torch, a, b)
    else:
        assert ours == theirs and type(ours) is type(theirs)


FORMATS = ["zip", "legacy"]


def modules(torch):
    torch.manual_seed(0)
    return {
        "lstm": torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True),
        "gru": torch.nn.GRU(4, 3, num_layers=2, batch_first=True),
        "linear": torch.nn.Linear(4, 2),
        "embedding": torch.nn.Embedding(7, 3),
        "rnn": torch.nn.RNN(2, 3, nonlinearity="relu"),
        "lstm_proj": torch.nn.LSTM(3, 5, proj_size=2),
    }


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("which", ["lstm", "gru", "linear", "embedding", "rnn", "lstm_proj"])
def test_torch_state_dicts(tmp_path, torch, which, fmt):
    sd = modules(torch)[which].state_dict()
    back = tg.load(torch_save(torch, sd, tmp_path / "m.pt", fmt))
    assert_same_as_torch(torch, back, sd)


def _outputs(out):
    """A recurrent layer's ``(y, h)`` or ``(y, (h, c))`` as a flat list."""
    y, h = out
    return [y, *(h if isinstance(h, tuple) else (h,))]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "which, make_ours, x_shape, seed",
    [
        ("lstm", lambda: tg.nn.LSTM(3, 5, num_layers=2, bidirectional=True), (6, 2, 3), 3),
        ("gru", lambda: tg.nn.GRU(4, 3, num_layers=2, batch_first=True), (2, 5, 4), 4),
    ],
)
def test_torch_recurrent_layer_into_ours(tmp_path, torch, fmt, which, make_ours, x_shape, seed):
    """A torch LSTM's / GRU's saved state_dict, loaded into ours, gives torch's outputs and states."""
    ref = modules(torch)[which]
    ours = make_ours()
    ours.load_state_dict(tg.load(torch_save(torch, ref.state_dict(), tmp_path / f"{which}.pt", fmt)))
    x = np.random.default_rng(seed).standard_normal(x_shape).astype(np.float32)
    with torch.no_grad():
        want = _outputs(ref(torch.from_numpy(x)))
    got = _outputs(ours(tg.Tensor(x)))
    assert len(got) == len(want) == (3 if which == "lstm" else 2)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, rtol=0)


def torch_tensors(torch):
    g = torch.Generator().manual_seed(5)
    base = torch.randn(5, 4, generator=g, dtype=torch.float64)
    return {
        "f64": base,
        "f16": torch.randn(3, 2, generator=g).half(),
        "bf16": torch.randn(6, generator=g).bfloat16(),
        "i64": torch.arange(-3, 9).reshape(3, 4),
        "i32": torch.tensor([2**31 - 1, -(2**31)], dtype=torch.int32),
        "i16": torch.tensor([-5, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([[0, 255]], dtype=torch.uint8),
        "bool": torch.tensor([[True], [False]]),
        "u16": torch.tensor([0, 65535]).to(torch.uint16),
        "u32": torch.tensor([0, 2**32 - 1]).to(torch.uint32),
        "u64": torch.tensor([0, 2**62]).to(torch.uint64),
        "scalar": torch.tensor(-1.25),
        "scalar_int": torch.tensor(7),
        "empty": torch.zeros(0),
        "empty_2d": torch.zeros(3, 0, dtype=torch.int64),
        "transposed": base.t(),
        "slice_offset": base[2:, 1:3],
        "row": base[3],
        "column": base[:, 2],
        "step": base.view(-1)[1::3],
        "shared_view": base.view(20)[4:12].view(2, 4),
        "expanded": torch.arange(4.0).expand(3, 4),
        "unsqueezed": torch.arange(3.0).unsqueeze(0).t(),
        "permuted": torch.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1),
        "neg": torch._neg_view(torch.arange(3.0)),
        "requires_grad": torch.ones(2, requires_grad=True),
        "param": torch.nn.Parameter(torch.randn(2, generator=g)),
        "frozen_param": torch.nn.Parameter(torch.randn(2, generator=g), requires_grad=False),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_torch_dtypes_and_views(tmp_path, torch, fmt):
    obj = torch_tensors(torch)
    back = tg.load(torch_save(torch, obj, tmp_path / "t.pt", fmt))
    assert_same_as_torch(torch, back, obj)
    assert back["bf16"].dtype == np.float32


@pytest.mark.parametrize("fmt", FORMATS)
def test_torch_checkpoint_with_optimizer_state(tmp_path, torch, fmt):
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    opts = {
        "adam": torch.optim.Adam(model.parameters(), lr=1e-3),
        "sgd": torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
    }
    for _ in range(2):
        model(torch.randn(8, 3)).pow(2).mean().backward()
        for o in opts.values():
            o.step()
    ck = {
        "model": model.state_dict(),
        "optimizer": opts["adam"].state_dict(),
        "sgd": opts["sgd"].state_dict(),
        "epoch": 3,
        "loss": 0.5,
        "best": None,
        "done": False,
        "history": [1.0, 0.5, 0.25],
        "shape": (2, 3),
        "name": "exp",
        "size": torch.Size([4, 3]),
    }
    back = tg.load(torch_save(torch, ck, tmp_path / "ck.pt", fmt))
    assert back["size"] == (4, 3) and type(back["size"]) is tuple
    ck["size"] = tuple(ck["size"])
    assert_same_as_torch(torch, back, ck)
    assert sorted(back["optimizer"]["state"]) == [0, 1, 2, 3]
    assert back["optimizer"]["param_groups"][0]["params"] == [0, 1, 2, 3]


@pytest.mark.parametrize("proto", [2, 3, 4, 5])
def test_torch_pickle_protocols(tmp_path, torch, proto):
    obj = {"sd": modules(torch)["linear"].state_dict(), "t": torch_tensors(torch)["permuted"], "b": b"xy", "s": {1, 2}}
    back = tg.load(torch_save(torch, obj, tmp_path / "p.pt", pickle_protocol=proto))
    assert back["b"] == b"xy" and back["s"] == {1, 2}
    del obj["b"], obj["s"], back["b"], back["s"]
    assert_same_as_torch(torch, back, obj)


def test_torch_single_tensor_list_and_parameter(tmp_path, torch):
    t = torch.randn(3, 2)
    for obj in (t, [t, t.t(), (t[0],)], torch.nn.Parameter(t.clone()), t[1:]):
        for fmt in FORMATS:
            assert_same_as_torch(torch, tg.load(torch_save(torch, obj, tmp_path / "x.pt", fmt)), obj)


def test_torch_without_byteorder_record_and_file_objects(tmp_path, torch):
    sd = modules(torch)["embedding"].state_dict()
    path = tmp_path / "nb.pt"
    torch.save(sd, path, _disable_byteorder_record=True)
    assert_same_as_torch(torch, tg.load(path), sd)
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    assert_same_as_torch(torch, tg.load(buf), sd)


def test_torch_tied_weights(tmp_path, torch):
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(5, 3)
            self.out = torch.nn.Linear(3, 5, bias=False)
            self.out.weight = self.emb.weight

    sd = Tied().state_dict()
    back = tg.load(torch_save(torch, sd, tmp_path / "tied.pt"))
    assert_same_as_torch(torch, back, sd)
    assert _same_memory(back["emb.weight"], back["out.weight"])


def test_torch_saved_whole_module_is_refused(tmp_path, torch):
    for fmt in FORMATS:
        path = torch_save(torch, torch.nn.Linear(2, 2), tmp_path / "model.pt", fmt)
        refused(path, "refuses global torch.nn.modules.linear.Linear", "state_dict()")


def test_torch_checkpoint_with_numpy_or_namespace_is_refused(tmp_path, torch):
    import argparse

    for extra, words in [
        (np.float64(0.5), "NumPy"),
        (np.arange(3), "NumPy"),
        (argparse.Namespace(lr=0.1), "vars(args)"),
    ]:
        path = torch_save(torch, {"w": torch.ones(2), "extra": extra}, tmp_path / "x.pt")
        refused(path, "refuses global", words)


def test_torch_reads_back_what_tg_loaded_then_saved(tmp_path, torch):
    # tg.load a torch file, tg.save it (our format), tg.load again: the same tensors.
    sd = modules(torch)["lstm"].state_dict()
    first = tg.load(torch_save(torch, sd, tmp_path / "t.pt"))
    tg.save(first, tmp_path / "ours.npz")
    second = tg.load(tmp_path / "ours.npz")
    assert list(second) == list(sd)
    for k in sd:
        assert_tensor(second[k], sd[k].numpy())
