"""save/load: faithful round trips, atomic writes, and refusal of anything that is not ours (never unpickle)."""

import json
import math
import os
import zipfile

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import serialization

MANIFEST = "__tinygrad_rnn__"


def _manifest_bytes(obj):
    return np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)


def _assert_tensor_equal(a, b):
    assert isinstance(b, tg.Tensor)
    assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def _listing(folder):
    return sorted(os.listdir(folder))


def test_round_trip_nested_structure(tmp_path):
    r = np.random.default_rng(0)
    obj = {
        "params": {
            "W": tg.Tensor(r.standard_normal((3, 4)).astype(np.float32), requires_grad=True),
            "b": tg.Tensor(r.standard_normal(4), requires_grad=True),  # float64
            "steps": tg.Tensor(np.arange(5)),  # int64, no grad
            "scalar": tg.Tensor(np.float32(2.5)),  # 0-d
        },
        "layers": [tg.Tensor(np.ones((2, 2), np.float32)), [tg.Tensor(np.int32(7)), {"deep": tg.zeros(0)}]],
        "arrays": {
            "f": r.standard_normal((2, 3)),
            "i": np.arange(6, dtype=np.int16).reshape(2, 3),
            "b": np.array([True, False]),
            "s": np.array(["ab", "c"]),
        },
        "int": 42,
        "neg": -3,
        "big": 2**62,
        "float": 0.1,
        "true": True,
        "false": False,
        "none": None,
        "str": "héllo ✓",
        "empty_str": "",
        "empty_list": [],
        "empty_dict": {},
        "tuple": (1, "two", 3.0),
        "np_scalar": np.float32(1.5),
    }
    path = tmp_path / "ckpt.npz"
    tg.save(obj, path)
    back = tg.load(path)
    assert set(back) == set(obj)
    for k in obj["params"]:
        _assert_tensor_equal(obj["params"][k], back["params"][k])
    assert back["params"]["W"].dtype == np.float32 and back["params"]["b"].dtype == np.float64
    assert back["params"]["steps"].dtype == np.int64 and not back["params"]["steps"].requires_grad
    assert back["params"]["scalar"].shape == ()
    assert isinstance(back["layers"], list) and isinstance(back["layers"][1], list)
    _assert_tensor_equal(obj["layers"][0], back["layers"][0])
    _assert_tensor_equal(obj["layers"][1][0], back["layers"][1][0])
    assert back["layers"][1][0].dtype == np.int32
    assert back["layers"][1][1]["deep"].shape == (0,)
    for k, a in obj["arrays"].items():
        assert type(back["arrays"][k]) is np.ndarray
        assert back["arrays"][k].dtype == a.dtype
        np.testing.assert_array_equal(back["arrays"][k], a)
    for k in ("int", "neg", "big", "float", "str", "empty_str", "empty_list", "empty_dict"):
        assert back[k] == obj[k] and type(back[k]) is type(obj[k])
    assert back["true"] is True and back["false"] is False and back["none"] is None
    assert back["tuple"] == (1, "two", 3.0) and isinstance(back["tuple"], tuple)
    assert back["np_scalar"] == 1.5


def test_requires_grad_preserved_and_loaded_tensor_is_a_fresh_leaf(tmp_path):
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = w * 3.0  # a non-leaf: saved by value
    c = tg.Tensor([5.0])
    path = tmp_path / "m.npz"
    tg.save([w, h, c], path)
    w2, h2, c2 = tg.load(path)
    assert w2.requires_grad and h2.requires_grad and not c2.requires_grad
    assert w2.is_leaf and h2.is_leaf and w2.grad is None
    np.testing.assert_array_equal(h2.numpy(), [3.0, 6.0])
    (w2 * h2).sum().backward()  # usable as parameters straight away
    np.testing.assert_array_equal(w2.grad.numpy(), [3.0, 6.0])
    np.testing.assert_array_equal(h2.grad.numpy(), [1.0, 2.0])


def test_special_floats_and_top_level_values(tmp_path):
    path = tmp_path / "v.npz"
    tg.save([float("inf"), -float("inf"), float("nan"), -0.0], path)
    inf, ninf, nan, nzero = tg.load(path)
    assert inf == math.inf and ninf == -math.inf and math.isnan(nan) and math.copysign(1, nzero) == -1
    for value in (None, 3, "x", True, tg.Tensor([1.0])):
        tg.save(value, path)
        back = tg.load(path)
        if isinstance(value, tg.Tensor):
            _assert_tensor_equal(value, back)
        else:
            assert back == value and type(back) is type(value)


def test_path_used_as_given_and_pathlike(tmp_path):
    path = tmp_path / "model.ckpt"  # no .npz appended
    tg.save({"a": 1}, str(path))
    assert _listing(tmp_path) == ["model.ckpt"]
    assert tg.load(path) == {"a": 1}
    assert zipfile.is_zipfile(path)


def test_saved_file_holds_no_pickled_arrays(tmp_path):
    path = tmp_path / "m.npz"
    tg.save({"w": tg.Tensor([1.0, 2.0]), "meta": {"name": "rnn"}}, path)
    with np.load(path, allow_pickle=False) as z:  # would raise if any member were an object array
        for k in z.files:
            assert z[k].dtype != object
        assert MANIFEST in z.files


def test_overwrite_replaces_contents(tmp_path):
    path = tmp_path / "m.npz"
    tg.save({"v": 1}, path)
    tg.save({"v": 2, "t": tg.Tensor([3.0])}, path)
    back = tg.load(path)
    assert back["v"] == 2 and back["t"].tolist() == [3.0]
    assert _listing(tmp_path) == ["m.npz"]


# ---- atomicity ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()], ids=["oserror", "interrupt"])
def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch, exc):
    path = tmp_path / "ckpt.npz"
    good = {"W": tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True), "epoch": 3}
    tg.save(good, path)
    before = path.read_bytes()
    calls = []

    def failing_savez(file, *args, **kwds):
        calls.append(sorted(kwds))
        file.write(b"PK\x03\x04 partial garbage that is not a complete archive")
        file.flush()
        raise exc

    monkeypatch.setattr(serialization.np, "savez", failing_savez)
    with pytest.raises(type(exc)):
        tg.save({"W": tg.Tensor(np.zeros((2, 3))), "epoch": 4}, path)
    assert calls, "the fake savez was not used: the test did not exercise the failure path"
    monkeypatch.undo()

    assert path.read_bytes() == before
    back = tg.load(path)
    assert back["epoch"] == 3
    _assert_tensor_equal(good["W"], back["W"])
    assert _listing(tmp_path) == ["ckpt.npz"]  # no temporary file left behind


def test_failed_first_write_creates_nothing(tmp_path, monkeypatch):
    def failing_savez(file, *args, **kwds):
        file.write(b"partial")
        raise OSError("no space left on device")

    monkeypatch.setattr(serialization.np, "savez", failing_savez)
    with pytest.raises(OSError, match="no space"):
        tg.save({"a": 1}, tmp_path / "new.npz")
    assert _listing(tmp_path) == []


def test_unsupported_object_fails_before_touching_disk(tmp_path):
    path = tmp_path / "m.npz"
    tg.save({"a": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        tg.save({"a": object()}, path)
    assert path.read_bytes() == before and _listing(tmp_path) == ["m.npz"]


# ---- refusing files that are not ours -------------------------------------------------------------------


def test_refuses_pickled_object_array(tmp_path):
    path = tmp_path / "evil.npz"
    manifest = {"format": 1, "root": {"t": "dict", "v": {"x": {"t": "array", "k": "a0"}}}}
    np.savez(path, a0=np.array([object(), {"k": 1}], dtype=object), **{MANIFEST: _manifest_bytes(manifest)})
    with pytest.raises(ValueError) as info:
        tg.load(path)
    msg = str(info.value)
    assert "pickle" in msg and "evil.npz" in msg


def test_refuses_pickled_array_inside_tensor_entry(tmp_path):
    path = tmp_path / "evil2.npz"
    manifest = {"format": 1, "root": {"t": "tensor", "k": "a0", "rg": False}}
    np.savez(path, a0=np.array([1, "x", None], dtype=object), **{MANIFEST: _manifest_bytes(manifest)})
    with pytest.raises(ValueError, match="pickle"):
        tg.load(path)


def test_refuses_plain_npz_without_manifest(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(ValueError) as info:
        tg.load(path)
    msg = str(info.value)
    assert "manifest" in msg and "plain.npz" in msg and "tinygrad_rnn.save" in msg


@pytest.mark.parametrize(
    "content", [b"hello, not a zip", b"", b"\x93NUMPY\x01\x00 a .npy header"], ids=["text", "empty", "npy"]
)
def test_refuses_non_zip_file(tmp_path, content):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        tg.load(path)
    assert "not an .npz archive" in str(info.value) and "x.npz" in str(info.value)


def test_refuses_truncated_archive(tmp_path):
    path = tmp_path / "t.npz"
    tg.save({"w": tg.randn(50, 50)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t.npz"):
        tg.load(path)


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00", b""], ids=["bad_json", "bad_utf8", "empty"])
def test_refuses_corrupt_manifest(tmp_path, raw):
    path = tmp_path / "c.npz"
    np.savez(path, **{MANIFEST: np.frombuffer(raw, dtype=np.uint8)})
    with pytest.raises(ValueError) as info:
        tg.load(path)
    msg = str(info.value)
    assert "manifest" in msg and "corrupt" in msg and "c.npz" in msg


@pytest.mark.parametrize(
    "manifest, words",
    [
        ([1, 2], ["unsupported manifest", "list"]),
        ({"format": 99, "root": None}, ["unsupported manifest", "99"]),
        ({"format": 1, "root": {"t": "array", "k": "a9"}}, ["malformed manifest entry", "a9"]),
        ({"format": 1, "root": {"t": "mystery"}}, ["unknown kind", "mystery"]),
        ({"format": 1, "root": {"t": "list", "v": 5}}, ["malformed manifest entry"]),
        ({"format": 1, "root": "just a string"}, ["malformed manifest entry"]),
    ],
    ids=["not_a_dict", "future_format", "missing_member", "unknown_kind", "bad_list", "bad_root"],
)
def test_refuses_invalid_manifest_structure(tmp_path, manifest, words):
    path = tmp_path / "m.npz"
    np.savez(path, **{MANIFEST: _manifest_bytes(manifest)})
    with pytest.raises(ValueError) as info:
        tg.load(path)
    for w in words:
        assert w in str(info.value)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        tg.load(tmp_path / "nope.npz")


# ---- refusing what cannot be saved ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, where",
    [
        (object(), "obj"),
        ({"a": {1, 2}}, "obj['a']"),
        ({"a": [1, b"bytes"]}, "obj['a'][1]"),
        ([1j], "obj[0]"),
        ({"f": lambda: 0}, "obj['f']"),
        (np.array([object()], dtype=object), "obj"),
        ({"x": np.array([1 + 2j])}, "obj['x']"),
    ],
    ids=["object", "set", "bytes", "complex", "function", "object_array", "complex_array"],
)
def test_save_unsupported_types_raise_type_error(tmp_path, bad, where):
    with pytest.raises(TypeError) as info:
        tg.save(bad, tmp_path / "x.npz")
    assert str(info.value).startswith("save:") and where in str(info.value)
    assert _listing(tmp_path) == []


def test_save_non_string_dict_keys_raise_type_error(tmp_path):
    with pytest.raises(TypeError, match="keys must be strings"):
        tg.save({1: tg.Tensor([1.0])}, tmp_path / "x.npz")
    assert _listing(tmp_path) == []
