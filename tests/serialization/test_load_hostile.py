"""tg.load on hostile input: every malformed, truncated, oversized or crafted file fails with
ValueError("load: ...") before any large allocation, and load never writes anything; tg.save gives the
file open()'s permissions and cleans up temporaries a killed save left behind."""

import io
import json
import os
import random
import signal
import stat
import struct
import subprocess
import sys
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import _atomic, serialization

MANIFEST = "__tinygrad_rnn__"
LOAD_ERROR = r"^load: "
REPO = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions, PIDs and signals")


# ---- building archives by hand ------------------------------------------------------------------------


def npy(arr):
    f = io.BytesIO()
    np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=True)
    return f.getvalue()


def npy_raw(header, data=b"", version=(1, 0)):
    """A .npy member with ``header`` (a str, used as given) and ``data`` after it."""
    h = header.encode("latin1")
    fmt, fixed = ("<H", 10) if version[0] == 1 else ("<I", 12)
    h += b" " * ((64 - (fixed + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(h)) + h + data


def manifest_member(manifest):
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    return npy(np.frombuffer(raw, dtype=np.uint8))


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    """``members``: (name, bytes) pairs, written in order (duplicates allowed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def archive(path, root, arrays=None, compression=zipfile.ZIP_STORED, extra=()):
    """A tinygrad_rnn-style .npz: ``arrays`` (key -> array or raw .npy bytes) plus the manifest."""
    members = [(f"{k}.npy", v if isinstance(v, bytes) else npy(v)) for k, v in (arrays or {}).items()]
    members += list(extra)
    members.append((f"{MANIFEST}.npy", manifest_member({"format": 1, "root": root})))
    return write_zip(path, members, compression)


_CENTRAL = {
    "flags": (8, "<H"),
    "method": (10, "<H"),
    "crc": (16, "<I"),
    "csize": (20, "<I"),
    "usize": (24, "<I"),
    "offset": (42, "<I"),
}


def patch_central(data, name, **fields):
    """``data`` with the central-directory entry of member ``name`` patched (zip32 archives only)."""
    data = bytearray(data)
    cd_offset = struct.unpack_from("<I", data, len(data) - 6)[0]
    pos = cd_offset
    while data[pos : pos + 4] == b"PK\x01\x02":
        nlen, elen, clen = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46 : pos + 46 + nlen].decode() == name:
            for field, value in fields.items():
                off, fmt = _CENTRAL[field]
                struct.pack_into(fmt, data, pos + off, value)
            return bytes(data)
        pos += 46 + nlen + elen + clen
    raise AssertionError(f"no member {name}")


def central_entry(data, name):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.getinfo(name)


def recompress(src, dst, compression):
    with zipfile.ZipFile(src) as z:
        members = [(i.filename, z.read(i)) for i in z.infolist()]
    return write_zip(dst, members, compression)


def sample():
    r = np.random.default_rng(0)
    return {
        "w": tg.Tensor(r.standard_normal((4, 5)).astype(np.float32), requires_grad=True),
        "b": tg.Tensor(r.standard_normal(5)),
        "ids": np.arange(7, dtype=np.int16),
        "names": np.array(["ab", "c"]),
        "cfg": {"lr": 0.1, "layers": [1, 2, (3, "x")], "none": None, "flag": True},
        "t": (tg.Tensor([1.0]), [np.zeros((0, 3))]),
    }


def assert_same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, tg.Tensor):
        assert (a.dtype, a.shape, a.requires_grad) == (b.dtype, b.shape, b.requires_grad)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b or (a != a and b != b)


def load_or_error(path, expected):
    """Either the right content or load's own ValueError; anything else fails the test."""
    try:
        back = tg.load(path)
    except ValueError as e:
        assert str(e).startswith("load: "), repr(e)
        return "error"
    assert_same(expected, back)
    return "ok"


def snapshot(*folders):
    out = {}
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                s = os.lstat(p)
                out[p] = (s.st_size, s.st_mtime_ns)
    return out


@pytest.fixture
def saved(tmp_path):
    """A valid checkpoint written by save (stored), its bytes, and what it holds."""
    obj = sample()
    path = tmp_path / "ok.npz"
    tg.save(obj, path)
    return path, path.read_bytes(), obj


@pytest.fixture
def saved_deflated(saved, tmp_path):
    path, _, obj = saved
    dpath = recompress(path, tmp_path / "deflated.npz", zipfile.ZIP_DEFLATED)
    assert_same(obj, tg.load(dpath))  # savez_compressed-style files load too
    return dpath, dpath.read_bytes(), obj


# ---- nesting depth --------------------------------------------------------------------------------------


def nested(kind, depth):
    obj = "leaf"
    for i in range(depth):
        k = kind if kind != "mixed" else ("list", "dict", "tuple")[i % 3]
        obj = [obj] if k == "list" else {"k": obj} if k == "dict" else (obj,)
    return obj


def nested_manifest(kind, depth):
    """Manifest JSON for ``depth`` nested containers, built as text (json.dumps itself would recurse)."""
    opens, closes = [], []
    for i in reversed(range(depth)):  # outermost first; nested() builds from the innermost
        k = kind if kind != "mixed" else ("list", "dict", "tuple")[i % 3]
        if k == "dict":
            opens.append('{"t": "dict", "v": {"k": ')
            closes.append("}}")
        else:
            opens.append(f'{{"t": "{k}", "v": [')
            closes.append("]}")
    leaf = '{"t": "value", "v": "leaf"}'
    root = "".join(opens) + leaf + "".join(reversed(closes))
    return f'{{"format": 1, "root": {root}}}'.encode()


KINDS = ["list", "dict", "tuple", "mixed"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("depth", [1, 2, 50, 99, 100])
def test_nesting_up_to_the_limit_round_trips(tmp_path, kind, depth):
    obj = nested(kind, depth)
    tg.save(obj, tmp_path / "d.npz")
    assert_same(obj, tg.load(tmp_path / "d.npz"))
    # the hand-built manifest is the one save writes
    path = write_zip(tmp_path / "h.npz", [(f"{MANIFEST}.npy", manifest_member(nested_manifest(kind, depth)))])
    assert_same(obj, tg.load(path))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("depth", [101, 102, 150, 1_000, 5_000, 100_000])
def test_load_refuses_nesting_over_the_limit(tmp_path, kind, depth):
    path = write_zip(tmp_path / "deep.npz", [(f"{MANIFEST}.npy", manifest_member(nested_manifest(kind, depth)))])
    with pytest.raises(ValueError, match=LOAD_ERROR) as info:
        tg.load(path)
    assert "deep" in str(info.value) and "deep.npz" in str(info.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("depth", [101, 120, 2_000])
def test_save_refuses_nesting_over_the_limit(tmp_path, kind, depth):
    with pytest.raises(ValueError, match=r"^save: .*100") as info:
        tg.save(nested(kind, depth), tmp_path / "d.npz")
    assert "deep" in str(info.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("make", ["list", "dict", "indirect"])
def test_save_refuses_cycles(tmp_path, make):
    a: list = []
    if make == "list":
        a.append(a)
        obj = a
    elif make == "dict":
        obj = {}
        obj["self"] = obj
    else:
        obj = {"x": [a]}
        a.append(obj)
    with pytest.raises(ValueError, match=r"^save: .*cycle"):
        tg.save(obj, tmp_path / "c.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b"{" * 100_000,
        b"[" * 203 + b"]" * 203,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"format": 1, "root": {"t": "value", "v": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}",
        b'{"format": 1, "root": {"t": "value", "v": "x"}, "pad": ' + b"[" * 300 + b"]" * 300 + b"}",
        b"[" * 1_000_000,  # a megabyte of brackets: refused without parsing
        b'["\\"", ' + b"[" * 300 + b"]" * 300 + b"]",  # an escaped quote does not hide what follows
    ],
    ids=["lists", "objects", "just_over", "keys", "inside_value", "inside_extra_key", "megabyte", "escaped_quote"],
)
def test_load_refuses_deep_raw_json(tmp_path, raw):
    path = write_zip(tmp_path / "j.npz", [(f"{MANIFEST}.npy", manifest_member(raw))])
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*deep"):
        tg.load(path)


@pytest.mark.parametrize("text", ["[" * 50_000, "{" * 50_000, '[[{{\\"' * 10_000, "]]]}}}" * 10_000, '\\\\"[[[' * 1000])
def test_brackets_inside_strings_do_not_count(tmp_path, text):
    obj = {"s": text, text: [text]}
    tg.save(obj, tmp_path / "s.npz")
    assert tg.load(tmp_path / "s.npz") == obj


def test_value_holding_nested_json_is_refused_even_when_shallow(tmp_path):
    path = write_zip(
        tmp_path / "v.npz",
        [(f"{MANIFEST}.npy", manifest_member({"format": 1, "root": {"t": "value", "v": [[[1]]]}}))],
    )
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*a value must be"):
        tg.load(path)


# ---- .npy headers ---------------------------------------------------------------------------------------

DATA = np.arange(10, dtype="<f8").tobytes()  # 80 bytes
COMPRESSIONS = pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"]
)


def header(descr="'<f8'", fortran="False", shape="(10,)"):
    return f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"


def one_array(path, member, compression=zipfile.ZIP_STORED, kind="array"):
    root = {"t": kind, "k": "a0", **({"rg": False} if kind == "tensor" else {})}
    return archive(path, root, {"a0": member}, compression)


HUGE_SHAPES = [
    "(10**12,)",
    "(2**31, 2**31)",
    "(2**62,)",
    "(2**63,)",
    "(10**30,)",
    "(10**6, 10**6, 10**6)",
    "(2**40, 0, 2**40)",
    "(1,) * 64",
    "(2,) * 40",
]


@COMPRESSIONS
@pytest.mark.parametrize("kind", ["array", "tensor"])
@pytest.mark.parametrize("shape", HUGE_SHAPES)
def test_huge_declared_shape_is_refused_before_allocating(tmp_path, compression, kind, shape):
    shape = repr(eval(shape))  # the header holds a literal tuple
    path = one_array(tmp_path / "h.npz", npy_raw(header(shape=shape), DATA), compression, kind)
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*'a0\.npy'"):
        tg.load(path)


@COMPRESSIONS
@pytest.mark.parametrize(
    "shape, descr",
    [
        ("(9,)", "'<f8'"),
        ("(11,)", "'<f8'"),
        ("(0,)", "'<f8'"),
        ("()", "'<f8'"),
        ("(3, 3)", "'<f8'"),
        ("(10,)", "'<f4'"),
        ("(10,)", "'<c16'"),
        ("(21,)", "'<f4'"),
        ("(10,)", "'<U1'"),
        ("(81,)", "'|u1'"),
    ],
)
def test_header_shape_disagreeing_with_data_size_is_refused(tmp_path, compression, shape, descr):
    path = one_array(tmp_path / "m.npz", npy_raw(header(descr=descr, shape=shape), DATA), compression)
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*'a0\.npy' declares shape"):
        tg.load(path)


@COMPRESSIONS
@pytest.mark.parametrize(
    "shape",
    [
        "(-1,)",
        "(10, -1)",
        "(-10, -1)",
        "(-2, -5)",
        "(True, 10)",
        "(10, True)",
        "(10.0,)",
        "('10',)",
        "(None,)",
        "[10]",
        "10",
        "{10: 1}",
    ],
)
def test_invalid_dims_are_refused(tmp_path, compression, shape):
    path = one_array(tmp_path / "n.npz", npy_raw(header(shape=shape), DATA), compression)
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*'a0\.npy'"):
        tg.load(path)


@COMPRESSIONS
@pytest.mark.parametrize(
    "descr, words",
    [
        ("'|O'", "pickle"),
        ("[('a', '<f8'), ('b', '|O')]", "pickle"),
        ("[('a', '<f8'), ('b', '<f8')]", "dtype"),
        ("[('a', '<f8', (2,))]", "dtype"),
        ("('<f8', (2,))", "dtype"),
        ("'|V8'", "dtype"),
        ("'<U0'", "zero-size"),
        ("'|S8'", "dtype"),
        ("'<M8[s]'", "dtype"),
        ("'<m8[s]'", "dtype"),
        ("'xyz'", "malformed .npy header"),
        ("object", "malformed .npy header"),
    ],
)
def test_refused_dtypes(tmp_path, compression, descr, words):
    path = one_array(tmp_path / "d.npz", npy_raw(header(descr=descr, shape="(5,)"), DATA), compression)
    with pytest.raises(ValueError, match=LOAD_ERROR) as info:
        tg.load(path)
    assert words in str(info.value) and "a0.npy" in str(info.value)


@COMPRESSIONS
@pytest.mark.parametrize(
    "member",
    [
        b"",
        b"\x93NUMP",
        b"\x93NUMPY",
        b"not numpy at all" * 10,
        npy_raw(header(), DATA, version=(3, 0)),
        npy_raw(header(), DATA, version=(9, 9)),
        npy_raw(header(), DATA, version=(0, 0)),
        npy_raw(header() + " " * 20_000, DATA),  # over numpy's header size limit
        npy_raw("[1, 2, 3]", DATA),
        npy_raw("{'descr': '<f8', 'shape': (10,)}", DATA),
        npy_raw(header()[:-3] + " 'extra': 1}", DATA),
        npy_raw(header(fortran="'yes'"), DATA),
        npy_raw(header(fortran="1"), DATA),
        npy_raw("__import__('os').system('touch pwned')", DATA),
        npy_raw("{'descr': " + "(" * 3000 + "'<f8'" + ")" * 3000 + "}", DATA),
        npy_raw("{'descr': '<f8'", DATA),
        b"\x93NUMPY\x01\x00\xff\xff" + b"{",  # header length past the member's end
    ],
    ids=[
        "empty",
        "short_magic",
        "no_version",
        "not_npy",
        "v3",
        "v9",
        "v0",
        "long_header",
        "not_dict",
        "missing_key",
        "extra_key",
        "fortran_str",
        "fortran_int",
        "code",
        "deep_header",
        "unclosed",
        "short",
    ],
)
def test_malformed_npy_headers(tmp_path, compression, member):
    path = one_array(tmp_path / "x.npz", member, compression)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*'a0\.npy'"):
        tg.load(path)
    assert snapshot(tmp_path) == before


@COMPRESSIONS
@pytest.mark.parametrize(
    "arr",
    [
        np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)),
        np.arange(6, dtype=">f8").reshape(2, 3),
        np.arange(6, dtype=">i4"),
        np.array([True, False, True]),
        np.array([1 + 2j, 3 - 4j]),
        np.array(["héllo", "✓"]),
        np.zeros((0, 3)),
        np.zeros((4, 0, 2), dtype=np.uint8),
        np.array(3.5),
        np.arange(5, dtype=np.uint64),
        np.array([np.nan, np.inf, -0.0], dtype=np.float16),
    ],
    ids=[
        "fortran",
        "fortran3d",
        "big_endian",
        "big_endian_int",
        "bool",
        "complex",
        "str",
        "empty",
        "empty3d",
        "scalar",
        "uint64",
        "float16",
    ],
)
def test_allowed_arrays_load_faithfully(tmp_path, compression, arr):
    path = one_array(tmp_path / "ok.npz", npy(arr), compression)
    back = tg.load(path)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    assert back.flags.f_contiguous == arr.flags.f_contiguous
    np.testing.assert_array_equal(back, arr)


def test_npy_version_2_header_loads(tmp_path):
    path = one_array(tmp_path / "v2.npz", npy_raw(header(), DATA, version=(2, 0)))
    np.testing.assert_array_equal(tg.load(path), np.arange(10.0))


# ---- truncation and corruption --------------------------------------------------------------------------


def offsets(n):
    fixed = [0, 1, 2, 3, 4, 10, 29, 30, 31, 64, 100, n // 3, n // 2, n - 100, n - 23, n - 22, n - 21, n - 2, n - 1]
    return sorted({o for o in fixed + list(np.linspace(0, n - 1, 25).astype(int)) if 0 <= o < n})


@pytest.mark.parametrize("which", ["stored", "deflated"])
def test_truncated_at_many_offsets(tmp_path, saved, saved_deflated, which):
    _, data, obj = saved if which == "stored" else saved_deflated
    cuts = offsets(len(data))
    assert len(cuts) >= 30
    path = tmp_path / "cut.npz"
    for cut in cuts:
        path.write_bytes(data[:cut])
        assert load_or_error(path, obj) == "error", cut
        padded = data[:cut] + b"\0" * (len(data) - cut)  # cut, then padded back to size with zeros
        path.write_bytes(padded)
        assert load_or_error(path, obj) == ("ok" if padded == data else "error"), cut


@pytest.mark.parametrize("which", ["stored", "deflated"])
@pytest.mark.parametrize("seed", range(4))
def test_random_byte_flips(tmp_path, saved, saved_deflated, which, seed):
    _, data, obj = saved if which == "stored" else saved_deflated
    rnd = random.Random(seed)
    path = tmp_path / "flip.npz"
    outcomes = []
    for pos in rnd.sample(range(len(data)), 60):
        bad = bytearray(data)
        bad[pos] ^= rnd.randrange(1, 256)
        path.write_bytes(bytes(bad))
        outcomes.append(load_or_error(path, obj))
    assert "error" in outcomes  # the flips did reach bytes that matter


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=6),
    cut=st.none() | st.integers(0, 10**9),
)
def test_random_corruption_property(saved, flips, cut):
    path, data, obj = saved
    bad = bytearray(data)
    for pos, x in flips:
        bad[pos % len(bad)] ^= x
    if cut is not None:
        bad = bad[: cut % len(bad)]
    out = path.with_name("prop.npz")
    out.write_bytes(bytes(bad))
    load_or_error(out, obj)


@COMPRESSIONS
def test_crc_mismatch_in_data_is_detected(tmp_path, compression):
    arr = np.arange(1000.0)
    path = one_array(tmp_path / "c.npz", npy(arr), compression)
    data = path.read_bytes()
    info = central_entry(data, "a0.npy")
    for crc in (info.CRC ^ 1, 0, 0xFFFFFFFF):
        path.write_bytes(patch_central(data, "a0.npy", crc=crc))
        with pytest.raises(ValueError, match=LOAD_ERROR + r".*'a0\.npy'.*CRC"):
            tg.load(path)


def test_flipped_data_byte_fails_the_crc(tmp_path):
    arr = np.arange(1000.0)
    path = one_array(tmp_path / "c.npz", npy(arr))
    data = bytearray(path.read_bytes())
    pos = bytes(data).index(arr[500:501].tobytes())
    data[pos] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*CRC"):
        tg.load(path)


@pytest.mark.parametrize("seed", range(8))
def test_corrupt_deflate_stream(tmp_path, seed):
    arr = np.random.default_rng(seed).standard_normal(2000)
    path = one_array(tmp_path / "z.npz", npy(arr), zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("a0.npy")
    start = info.header_offset + 30 + len("a0.npy")
    rnd = random.Random(seed)
    lo = start + (0 if seed % 2 else info.compress_size // 2)  # garbage from the start, or mid-stream
    data[lo : start + info.compress_size] = rnd.randbytes(start + info.compress_size - lo)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*'a0\.npy'"):
        tg.load(path)


@pytest.mark.parametrize("target", ["a0.npy", f"{MANIFEST}.npy"])
@pytest.mark.parametrize("factor", ["1033x", "2**32-1", "1032x+1", "2**31"])
def test_zip_bomb_declared_size_is_refused(tmp_path, target, factor):
    path = one_array(tmp_path / "b.npz", npy(np.zeros(5000)), zipfile.ZIP_DEFLATED)
    data = path.read_bytes()
    c = central_entry(data, target).compress_size
    usize = {"1033x": 1033 * c, "2**32-1": 2**32 - 1, "1032x+1": 1032 * c + 1, "2**31": 2**31}[factor]
    path.write_bytes(patch_central(data, target, usize=usize))
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*zip bomb"):
        tg.load(path)


def test_honest_highly_compressed_member_loads(tmp_path):
    arr = np.zeros(2**20)  # 8 MiB of zeros: about 1000:1, just inside deflate's limit
    path = one_array(tmp_path / "z.npz", npy(arr), zipfile.ZIP_DEFLATED)
    info = central_entry(path.read_bytes(), "a0.npy")
    assert info.file_size > 900 * info.compress_size
    np.testing.assert_array_equal(tg.load(path), arr)


@pytest.mark.parametrize("delta", [1, 100, -1, -50])
def test_stored_member_with_inconsistent_sizes(tmp_path, delta):
    path = one_array(tmp_path / "s.npz", npy(np.arange(100.0)))
    data = path.read_bytes()
    info = central_entry(data, "a0.npy")
    path.write_bytes(patch_central(data, "a0.npy", usize=info.file_size + delta))
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*'a0\.npy' is stored uncompressed"):
        tg.load(path)
    both = patch_central(data, "a0.npy", usize=info.file_size + delta, csize=info.file_size + delta)
    path.write_bytes(both)
    with pytest.raises(ValueError, match=LOAD_ERROR):
        tg.load(path)


@pytest.mark.parametrize("size", [2**31, 2**32 - 1, 10**9])
def test_sizes_past_the_end_of_the_file(tmp_path, size):
    path = one_array(tmp_path / "p.npz", npy(np.arange(100.0)))
    path.write_bytes(patch_central(path.read_bytes(), "a0.npy", usize=size, csize=size))
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*past the end"):
        tg.load(path)


def test_deflate_stream_shorter_than_declared(tmp_path):
    body = npy(np.arange(100.0))
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    stream = comp.compress(body[:-80]) + comp.flush()  # a complete stream, 80 bytes short
    path = one_array(tmp_path / "short.npz", body[:-80], zipfile.ZIP_DEFLATED)
    data = path.read_bytes()
    info = central_entry(data, "a0.npy")
    assert info.compress_size == len(stream)
    path.write_bytes(patch_central(data, "a0.npy", usize=len(body), crc=zlib.crc32(body)))
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*'a0\.npy'"):
        tg.load(path)


def test_deflate_stream_longer_than_declared_is_cut_at_the_declared_size(tmp_path):
    body = npy(np.arange(100.0))
    path = one_array(tmp_path / "long.npz", body + b"\0" * 5000, zipfile.ZIP_DEFLATED)
    path.write_bytes(patch_central(path.read_bytes(), "a0.npy", usize=len(body), crc=zlib.crc32(body)))
    np.testing.assert_array_equal(tg.load(path), np.arange(100.0))  # the excess is never decompressed


@pytest.mark.parametrize("method", ["bzip2", "lzma", "99", "1"])
def test_unsupported_compression_methods(tmp_path, method):
    if method in ("bzip2", "lzma"):
        comp = zipfile.ZIP_BZIP2 if method == "bzip2" else zipfile.ZIP_LZMA
        path = one_array(tmp_path / "m.npz", npy(np.arange(10.0)), comp)
    else:
        path = one_array(tmp_path / "m.npz", npy(np.arange(10.0)))
        path.write_bytes(patch_central(path.read_bytes(), "a0.npy", method=int(method)))
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*compression method"):
        tg.load(path)


@pytest.mark.parametrize("flags, words", [(0x1, "encrypted"), (0x41, "encrypted"), (0x20, "corrupt")])
def test_encrypted_or_patched_members(tmp_path, flags, words):
    path = one_array(tmp_path / "e.npz", npy(np.arange(10.0)))
    path.write_bytes(patch_central(path.read_bytes(), "a0.npy", flags=flags))
    with pytest.raises(ValueError, match=LOAD_ERROR + rf".*{words}"):
        tg.load(path)


def test_overlapping_members_are_refused(tmp_path):
    path = archive(
        tmp_path / "o.npz",
        [{"t": "array", "k": "a0"}, {"t": "array", "k": "a1"}],
        {"a0": np.arange(10.0), "a1": np.arange(10.0)},
    )
    data = path.read_bytes()
    a0 = central_entry(data, "a0.npy")
    for offset in (a0.header_offset, a0.header_offset + 10):
        path.write_bytes(patch_central(data, "a1.npy", offset=offset))
        with pytest.raises(ValueError, match=LOAD_ERROR + r".*overlaps"):
            tg.load(path)


@pytest.mark.parametrize("offset", [5, 2**31, 2**32 - 1])
def test_member_offset_pointing_elsewhere(tmp_path, offset):
    path = one_array(tmp_path / "w.npz", npy(np.arange(10.0)))
    path.write_bytes(patch_central(path.read_bytes(), "a0.npy", offset=offset))
    with pytest.raises(ValueError, match=LOAD_ERROR):
        tg.load(path)


# ---- the manifest ---------------------------------------------------------------------------------------

A0 = {"a0": np.arange(3.0)}
ARR = {"t": "array", "k": "a0"}


def m(root):
    return {"format": 1, "root": root}


MANIFEST_CASES = [
    ("not_json", b"{not json", {}, "corrupt manifest"),
    ("empty", b"", {}, "corrupt manifest"),
    ("bad_utf8", b"\xff\xfe\x00", {}, "not UTF-8"),
    ("utf16", json.dumps(m(None)).encode("utf-16"), {}, "corrupt manifest"),
    ("huge_int", b'{"format": 1, "root": {"t": "value", "v": ' + b"1" * 5000 + b"}}", {}, "corrupt manifest"),
    ("trailing", json.dumps(m({"t": "value", "v": 1})).encode() + b" x", {}, "corrupt manifest"),
    ("list", [1, 2], {}, "unsupported manifest"),
    ("string", "x", {}, "unsupported manifest"),
    ("number", 1, {}, "unsupported manifest"),
    ("null", None, {}, "unsupported manifest"),
    ("no_format", {"root": {"t": "value", "v": 1}}, {}, "format None"),
    ("format_2", {"format": 2, "root": {"t": "value", "v": 1}}, {}, "format 2"),
    ("format_str", {"format": "1", "root": {"t": "value", "v": 1}}, {}, "format '1'"),
    ("format_true", {"format": True, "root": {"t": "value", "v": 1}}, {}, "format True"),
    ("format_float", {"format": 1.0, "root": {"t": "value", "v": 1}}, {}, "format 1.0"),
    ("extra_key", {"format": 1, "root": {"t": "value", "v": 1}, "x": 0}, {}, "unsupported manifest"),
    ("no_root", {"format": 1}, {}, "unsupported manifest"),
    ("dup_root", b'{"format": 1, "root": {"t": "value", "v": 1}, "root": {"t": "value", "v": 2}}', {}, "duplicate"),
    ("root_str", m("x"), {}, "malformed manifest entry at root"),
    ("root_num", m(5), {}, "malformed manifest entry"),
    ("root_list", m([]), {}, "malformed manifest entry"),
    ("root_null", m(None), {}, "malformed manifest entry"),
    ("no_t", m({"v": 1}), {}, "malformed manifest entry"),
    ("t_int", m({"t": 5, "v": 1}), {}, "malformed manifest entry"),
    ("t_list", m({"t": ["list"], "v": []}), {}, "malformed manifest entry"),
    ("unknown_kind", m({"t": "mystery"}), {}, "unknown kind 'mystery'"),
    ("capital_kind", m({"t": "Tensor", "k": "a0"}), A0, "unknown kind"),
    ("empty_kind", m({"t": ""}), {}, "unknown kind"),
    ("tensor_no_k", m({"t": "tensor", "rg": True}), A0, "keys"),
    ("array_rg", m({"t": "array", "k": "a0", "rg": True}), A0, "keys"),
    ("dict_no_v", m({"t": "dict"}), {}, "keys"),
    ("value_no_v", m({"t": "value"}), {}, "keys"),
    ("value_extra", m({"t": "value", "v": 1, "x": 2}), {}, "keys"),
    ("missing_member", m({"t": "array", "k": "a9"}), {}, "'a9'"),
    ("k_int", m({"t": "array", "k": 0}), A0, "names member 0"),
    ("k_null", m({"t": "tensor", "k": None, "rg": False}), A0, "names member None"),
    ("k_list", m({"t": "array", "k": ["a0"]}), A0, "names member"),
    ("k_manifest", m({"t": "list", "v": [ARR, {"t": "array", "k": MANIFEST}]}), A0, "not in the archive"),
    ("k_traversal", m({"t": "array", "k": "../a0"}), A0, "not in the archive"),
    ("k_with_ext", m({"t": "array", "k": "a0.npy"}), A0, "not in the archive"),
    ("twice", m({"t": "list", "v": [ARR, ARR]}), A0, "second time"),
    ("unreferenced", m({"t": "value", "v": 1}), A0, "'a0.npy' is not referenced"),
    ("rg_int", m({"t": "tensor", "k": "a0", "rg": 1}), A0, "'rg'"),
    ("rg_str", m({"t": "tensor", "k": "a0", "rg": "yes"}), A0, "'rg'"),
    ("rg_null", m({"t": "tensor", "k": "a0", "rg": None}), A0, "'rg'"),
    ("dict_v_list", m({"t": "dict", "v": []}), {}, "JSON object"),
    ("list_v_dict", m({"t": "list", "v": {}}), {}, "JSON array"),
    ("tuple_v_str", m({"t": "tuple", "v": "ab"}), {}, "JSON array"),
    ("list_v_null", m({"t": "list", "v": None}), {}, "JSON array"),
    ("value_list", m({"t": "value", "v": [1]}), {}, "a value must be"),
    ("value_dict", m({"t": "value", "v": {"a": 1}}), {}, "a value must be"),
    ("deep_bad", m({"t": "dict", "v": {"a": {"t": "list", "v": [{"t": "bogus"}]}}}), {}, "root['a'][0]"),
    (
        "dup_key",
        b'{"format": 1, "root": {"t": "dict", "v": {"a": {"t": "array", "k": "a0"}, "a": {"t": "value", "v": 1}}}}',
        A0,
        "duplicate key 'a'",
    ),
    ("long_key", m({"t": "dict", "v": {"x" * 10**6: {"t": "bogus"}}}), {}, "..."),
]


@pytest.mark.parametrize("raw, arrays, words", [c[1:] for c in MANIFEST_CASES], ids=[c[0] for c in MANIFEST_CASES])
def test_invalid_manifests(tmp_path, raw, arrays, words):
    raw = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    members = [(f"{k}.npy", npy(v)) for k, v in arrays.items()] + [(f"{MANIFEST}.npy", manifest_member(raw))]
    path = write_zip(tmp_path / "man.npz", members)
    with pytest.raises(ValueError, match=LOAD_ERROR) as info:
        tg.load(path)
    msg = str(info.value)
    assert words in msg and "man.npz" in msg
    assert len(msg) < 2000  # a megabyte key is not echoed back


@pytest.mark.parametrize(
    "member, words",
    [
        (npy(np.frombuffer(b'{"format": 1}', dtype=np.uint8).astype(np.float64)), "not uint8"),
        (npy(np.frombuffer(b'{"format": 1, "r"}', dtype=np.uint8).reshape(2, 9)), "not uint8"),
        (npy(np.uint8(7)), "not uint8"),
        (npy(np.array(["{}"])), "not uint8"),
        (npy(np.array([b"{}"])), "dtype"),
    ],
    ids=["float", "2d", "0d", "str", "bytes"],
)
def test_manifest_member_of_the_wrong_kind(tmp_path, member, words):
    path = write_zip(tmp_path / "k.npz", [(f"{MANIFEST}.npy", member)])
    with pytest.raises(ValueError, match=LOAD_ERROR + rf".*{words}"):
        tg.load(path)


def test_oversized_manifest_is_refused_before_reading(tmp_path):
    body = b'{"format": 1, "root": {"t": "value", "v": 1}}' + b" " * (17 << 20)
    path = write_zip(tmp_path / "big.npz", [(f"{MANIFEST}.npy", manifest_member(body))], zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*limit is 16777216"):
        tg.load(path)


# ---- member names, and load never writes ------------------------------------------------------------------

ODD_NAMES = [
    "../evil.npy",
    "../../evil.npy",
    "/tmp/tinygrad_rnn_evil.npy",
    "/abs.npy",
    "dir/",
    "dir/a0.npy",
    "a0.npy/",
    "..\\evil.npy",
    "C:\\evil.npy",
    "C:/evil.npy",
    "a0",
    "a0.npz",
    "a-0.npy",
    "a 0.npy",
    ".npy",
    "ä.npy",
    "a" * 300 + ".npy",
    "__MACOSX/._a0.npy",
    "./a0.npy",
    "a0.NPY",
]


@pytest.mark.parametrize("referenced", [False, True], ids=["extra_member", "referenced"])
@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_member_names_are_refused_and_nothing_is_written(tmp_path, monkeypatch, name, referenced):
    root = tmp_path / "root"
    work = root / "work" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    key = name[:-4] if name.endswith(".npy") else name
    manifest = m({"t": "array", "k": key}) if referenced else m({"t": "value", "v": 1})
    path = write_zip(work / "odd.npz", [(name, npy(np.arange(3.0))), (f"{MANIFEST}.npy", manifest_member(manifest))])
    with zipfile.ZipFile(path) as zf:
        assert name in zf.namelist()  # the archive really holds the odd name
    before = snapshot(root)
    abs_before = os.path.exists("/tmp/tinygrad_rnn_evil.npy")
    with pytest.raises(ValueError, match=LOAD_ERROR) as info:
        tg.load(path)
    assert "unexpected member" in str(info.value)
    assert snapshot(root) == before
    assert os.path.exists("/tmp/tinygrad_rnn_evil.npy") == abs_before


def test_duplicate_member_names_are_refused(tmp_path):
    path = write_zip(
        tmp_path / "dup.npz",
        [
            ("a0.npy", npy(np.arange(3.0))),
            ("a0.npy", npy(np.arange(4.0))),
            (f"{MANIFEST}.npy", manifest_member(m(ARR))),
        ],
    )
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*twice"):
        tg.load(path)


def test_duplicate_manifest_members_are_refused(tmp_path):
    path = write_zip(
        tmp_path / "dup.npz",
        [
            (f"{MANIFEST}.npy", manifest_member(m({"t": "value", "v": 1}))),
            (f"{MANIFEST}.npy", manifest_member(m({"t": "value", "v": 2}))),
        ],
    )
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*twice"):
        tg.load(path)


def test_a_valid_load_writes_nothing(tmp_path, monkeypatch, saved):
    path, _, obj = saved
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    assert_same(obj, tg.load(path))
    assert snapshot(tmp_path) == before


# ---- things that are not checkpoints at all --------------------------------------------------------------

NOT_ZIPS = {
    "empty": b"",
    "text": b"hello, not a zip",
    "npy": npy(np.arange(3)),
    "gzip": b"\x1f\x8b\x08\x00" + bytes(100),
    "pk_local_only": b"PK\x03\x04" + bytes(26),
    "eocd_only_garbage": b"PK\x05\x06" + b"\xff" * 18,
    "random": random.Random(0).randbytes(4096),
    "json": json.dumps(m({"t": "value", "v": 1})).encode(),
    "zip_header_then_junk": b"PK\x03\x04" + random.Random(1).randbytes(500),
}


@pytest.mark.parametrize("content", NOT_ZIPS.values(), ids=NOT_ZIPS.keys())
def test_not_a_zip(tmp_path, content):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*not an \.npz archive"):
        tg.load(path)


@pytest.mark.parametrize(
    "members, words",
    [
        ([], "without the tinygrad_rnn manifest"),
        ([("x.npy", npy(np.arange(3)))], "without the tinygrad_rnn manifest"),
        ([("readme.txt", b"hi")], "without the tinygrad_rnn manifest"),
        ([("dir/", b"")], "without the tinygrad_rnn manifest"),
    ],
    ids=["empty_zip", "plain_npz", "text_member", "directory_entry"],
)
def test_zips_that_are_not_ours(tmp_path, members, words):
    path = write_zip(tmp_path / "z.npz", members)
    with pytest.raises(ValueError, match=LOAD_ERROR + rf".*{words}"):
        tg.load(path)


@pytest.mark.parametrize(
    "arr",
    [
        np.array([object(), {"k": 1}], dtype=object),
        np.array([1, "x", None], dtype=object),
        np.array([(1.0, [1])], dtype=[("a", "<f8"), ("b", "O")]),
    ],
    ids=["objects", "mixed", "structured_object"],
)
@pytest.mark.parametrize("kind", ["array", "tensor"])
def test_pickled_arrays_are_refused(tmp_path, arr, kind):
    path = tmp_path / "evil.npz"
    root = {"t": kind, "k": "a0", **({"rg": False} if kind == "tensor" else {})}
    np.savez(path, a0=arr, **{MANIFEST: np.frombuffer(json.dumps(m(root)).encode(), dtype=np.uint8)})
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*pickle"):
        tg.load(path)


def test_pickled_manifest_is_refused(tmp_path):
    path = write_zip(tmp_path / "p.npz", [(f"{MANIFEST}.npy", npy(np.array([m(None)], dtype=object)))])
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*pickle"):
        tg.load(path)


def test_directory_path(tmp_path):
    with pytest.raises(ValueError, match=LOAD_ERROR + r".*directory"):
        tg.load(tmp_path)


@posix_only
def test_fifo_and_device_paths_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    for p in (fifo, "/dev/null"):
        t = time.monotonic()
        with pytest.raises(ValueError, match=LOAD_ERROR + r".*special file"):
            tg.load(p)
        assert time.monotonic() - t < 5


@posix_only
def test_symlinks(tmp_path, saved):
    path, _, obj = saved
    link = tmp_path / "link.npz"
    link.symlink_to(path)
    assert_same(obj, tg.load(link))
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "nowhere.npz")
    with pytest.raises(FileNotFoundError, match=r"^load: .*dangling\.npz"):
        tg.load(dangling)


def test_missing_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^load: .*missing\.npz"):
        tg.load(tmp_path / "missing.npz")


# ---- save: permissions ------------------------------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o027, 0o640)])
def test_new_file_gets_open_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        tg.save({"a": tg.Tensor([1.0])}, tmp_path / "p.npz")
        with open(tmp_path / "ref", "w"):
            pass
    finally:
        os.umask(old)
    ref = stat.S_IMODE(os.stat(tmp_path / "ref").st_mode)
    if ref != mode:
        pytest.skip(f"this folder's default ACL gives open() mode {ref:o}, not {mode:o}")
    assert stat.S_IMODE(os.stat(tmp_path / "p.npz").st_mode) == ref


@posix_only
@pytest.mark.parametrize("existing", [0o640, 0o600, 0o644, 0o444])
def test_overwrite_keeps_the_existing_mode_like_open(tmp_path, existing):
    path = tmp_path / "p.npz"
    tg.save({"a": 1}, path)
    os.chmod(path, existing)
    old = os.umask(0o022)
    try:
        tg.save({"a": 2}, path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == existing
    assert tg.load(path) == {"a": 2}


# ---- save: temporary files --------------------------------------------------------------------------------


def temp_name(pid, tag=None, rand="0123abcd", name="ckpt.npz"):
    return f".tinygrad_rnn-save-{tag or _atomic.host_tag()}-{pid}-{rand}-{name}.tmp"


def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", ""])
    p.wait()
    return p.pid


def test_temp_file_is_named_after_us_while_writing(tmp_path, monkeypatch):
    seen = []
    real = np.savez

    def spy(file, **kw):
        seen.extend(os.listdir(tmp_path))
        real(file, **kw)

    monkeypatch.setattr(serialization.np, "savez", spy)
    tg.save({"a": 1}, tmp_path / "my model.npz")
    (tmp,) = seen
    match = _atomic.TEMP_NAME.fullmatch(tmp)
    assert match and int(match.group(2)) == os.getpid() and tmp.endswith("-my_model.npz.tmp")
    assert os.listdir(tmp_path) == ["my model.npz"]


@posix_only
def test_orphan_of_a_dead_writer_is_removed_by_the_next_save(tmp_path):
    orphans = [temp_name(dead_pid(), rand=r) for r in ("0000aaaa", "1111bbbb")]
    orphans.append(temp_name(dead_pid(), name="other.npz"))  # another target in the same folder
    for o in orphans:
        (tmp_path / o).write_bytes(b"PK partial")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / orphans[0]).write_bytes(b"PK partial")
    tg.save({"a": 1}, tmp_path / "ckpt.npz")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz", "elsewhere"]
    assert os.listdir(other) == [orphans[0]]  # only the folder saved into is cleaned


@posix_only
def test_live_writers_temps_are_kept(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = [temp_name(os.getpid()), temp_name(os.getppid()), temp_name(1), temp_name(sleeper.pid)]
        for n in live:
            (tmp_path / n).write_bytes(b"in progress")
            os.utime(tmp_path / n, (0, 0))  # however old
        tg.save({"a": 1}, tmp_path / "ckpt.npz")
        assert sorted(os.listdir(tmp_path)) == sorted(live + ["ckpt.npz"])
    finally:
        sleeper.kill()
        sleeper.wait()


def test_other_hosts_temps_are_removed_only_when_old(tmp_path):
    foreign = "ffffffff" if _atomic.host_tag() != "ffffffff" else "eeeeeeee"
    old, recent = temp_name(12345, tag=foreign, rand="0000aaaa"), temp_name(12345, tag=foreign, rand="1111bbbb")
    for n in (old, recent):
        (tmp_path / n).write_bytes(b"x")
    os.utime(tmp_path / old, (time.time() - 2 * _atomic.STALE_AGE_S,) * 2)
    tg.save({"a": 1}, tmp_path / "ckpt.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", recent])


@posix_only
def test_nothing_but_our_own_temps_is_ever_removed(tmp_path):
    pid = dead_pid()
    tag = _atomic.host_tag()
    keep = [
        ".tmp-abcd1234.npz",
        "x.tmp",
        ".tinygrad_rnn-save-garbage.tmp",
        f".tinygrad_rnn-save-{tag}-{pid}.tmp",
        temp_name(pid, rand="zzzzzzzz"),
        temp_name(pid) + ".bak",
        "backup-" + temp_name(pid),
        temp_name(pid, name="bad name"),
        temp_name(pid).upper(),
        f".tinygrad_rnn-save-{tag}--0123abcd-c.tmp",
    ]
    for n in keep:
        (tmp_path / n).write_bytes(b"not ours")
        os.utime(tmp_path / n, (0, 0))
    (tmp_path / temp_name(pid, rand="dddddddd")).mkdir()  # our naming, but a folder
    target = tmp_path / "precious"
    target.write_bytes(b"precious")
    (tmp_path / temp_name(pid, rand="eeeeeeee")).symlink_to(target)  # our naming, but a link
    before = sorted(os.listdir(tmp_path))
    tg.save({"a": 1}, tmp_path / "ckpt.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["ckpt.npz"])
    assert target.read_bytes() == b"precious"


KILLED_SAVE = """
import sys, time
import tinygrad_rnn as tg
from tinygrad_rnn import serialization

def slow_savez(file, **arrays):
    file.write(b"PK\\x03\\x04 a partial archive")
    file.flush()
    open(sys.argv[2], "w").close()
    time.sleep(120)

serialization.np.savez = slow_savez
tg.save({"w": tg.Tensor([9.0]), "epoch": 99}, sys.argv[1])
"""


@posix_only
def test_save_killed_midway_leaves_an_orphan_that_the_next_save_removes(tmp_path):
    path = tmp_path / "ckpt.npz"
    tg.save({"epoch": 1}, path)
    before = path.read_bytes()
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path), str(ready)], env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "the saving subprocess exited early"
            assert time.monotonic() < deadline, "the saving subprocess never started writing"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    ready.unlink()
    (orphan,) = [n for n in os.listdir(tmp_path) if n != "ckpt.npz"]
    assert _atomic.TEMP_NAME.fullmatch(orphan) and f"-{proc.pid}-" in orphan
    assert path.read_bytes() == before and tg.load(path) == {"epoch": 1}  # the kill did not touch the target
    tg.save({"epoch": 2}, tmp_path / "another.npz")  # any save into the folder cleans it
    assert sorted(os.listdir(tmp_path)) == ["another.npz", "ckpt.npz"]
