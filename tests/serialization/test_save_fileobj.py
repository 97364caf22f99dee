"""tg.save/tg.load with binary file objects, Modules refused with a pointer to state_dict(), and
PyTorch's load arguments (map_location, weights_only, mmap) accepted."""

import gzip
import io
import os
import re
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg

DATA = Path(__file__).resolve().parent / "data"


def sample():
    return {
        "w": tg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True),
        "meta": {"epoch": 3, "name": "x", "ids": [1, 2, (3, None)]},
        "a": np.arange(4, dtype=np.int16),
    }


def assert_sample(back):
    assert back["meta"] == {"epoch": 3, "name": "x", "ids": [1, 2, (3, None)]}
    assert back["w"].requires_grad and back["w"].dtype == np.float32
    np.testing.assert_array_equal(back["w"].numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(back["a"], np.arange(4, dtype=np.int16))


class ReadOnlyStream:
    """A non-seekable binary stream (a pipe or socket): only read()."""

    def __init__(self, data):
        self._f = io.BytesIO(data)

    def read(self, n=-1):
        return self._f.read(n)


class WriteOnlyStream:
    """A non-seekable binary sink: only write() (and flush())."""

    def __init__(self):
        self.buf = bytearray()
        self.flushed = False

    def write(self, b):
        self.buf += b
        return len(b)

    def flush(self):
        self.flushed = True


# ---- round trips through file objects ---------------------------------------------------------------------


def test_bytesio_round_trip():
    buf = io.BytesIO()
    tg.save(sample(), buf)
    assert not buf.closed and buf.tell() == len(buf.getvalue())
    buf.seek(0)
    assert_sample(tg.load(buf))
    assert not buf.closed


def test_open_file_round_trip(tmp_path):
    path = tmp_path / "ck.npz"
    with open(path, "wb") as f:
        tg.save(sample(), f)
        assert not f.closed
    assert_sample(tg.load(path))
    with open(path, "rb") as f:
        assert_sample(tg.load(f))
        assert not f.closed
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]  # no temporary file for a file object


def test_bytes_written_to_a_file_object_equal_a_loadable_archive(tmp_path):
    buf = io.BytesIO()
    tg.save(sample(), buf)
    path = tmp_path / "copy.npz"
    path.write_bytes(buf.getvalue())
    assert_sample(tg.load(path))
    assert zipfile.is_zipfile(path)


def test_save_into_a_non_seekable_stream():
    sink = WriteOnlyStream()
    tg.save(sample(), sink)
    assert sink.flushed
    assert_sample(tg.load(io.BytesIO(bytes(sink.buf))))


def test_load_from_a_non_seekable_stream():
    buf = io.BytesIO()
    tg.save(sample(), buf)
    assert_sample(tg.load(ReadOnlyStream(buf.getvalue())))


def test_load_from_the_streams_position():
    # A file object not at 0 is read from where it stands (e.g. a header the caller already read).
    buf = io.BytesIO()
    buf.write(b"HEADER")
    tg.save(sample(), buf)
    buf.seek(6)
    assert_sample(tg.load(buf))


def test_several_saves_into_one_stream():
    buf = io.BytesIO()
    tg.save({"n": 1}, buf)
    first = buf.tell()
    tg.save({"n": 2}, buf)
    data = buf.getvalue()
    assert tg.load(io.BytesIO(data[:first])) == {"n": 1}
    assert tg.load(io.BytesIO(data[first:])) == {"n": 2}


def test_gzip_file_objects(tmp_path):
    # GzipFile.mode is an int, not "wb"; it cannot seek back, so the archive goes in in one write.
    path = tmp_path / "ck.npz.gz"
    with gzip.open(path, "wb") as f:
        tg.save(sample(), f)
    with gzip.open(path, "rb") as f:
        assert_sample(tg.load(f))
    with gzip.open(path, "rb") as f:
        assert zipfile.is_zipfile(io.BytesIO(f.read()))


def test_a_pipe(tmp_path):
    r, w = os.pipe()
    with open(w, "wb") as wf:  # a BufferedWriter that cannot seek
        assert not wf.seekable()
        tg.save({"n": 1}, wf)
    with open(r, "rb") as rf:
        assert tg.load(rf) == {"n": 1}


@pytest.mark.parametrize("name", ["checkpoint.pt", "checkpoint_legacy.pt", "lstm_state.pt"])
def test_torch_files_from_file_objects(name):
    raw = (DATA / name).read_bytes()
    from_path = tg.load(DATA / name)
    for f in (io.BytesIO(raw), ReadOnlyStream(raw)):
        back = tg.load(f)
        assert list(back) == list(from_path) and type(back) is type(from_path)


# ---- errors with file objects -------------------------------------------------------------------------


def test_text_mode_files_are_type_errors(tmp_path):
    path = tmp_path / "t.npz"
    with open(path, "w") as f:
        with pytest.raises(TypeError, match=r"^save: .*t\.npz is open in text mode"):
            tg.save({"a": 1}, f)
    tg.save({"a": 1}, path)
    with open(path) as f:
        with pytest.raises(TypeError, match=r"^load: .*t\.npz is open in text mode.*'rb'"):
            tg.load(f)
    for op in (lambda s: tg.save({"a": 1}, s), tg.load):
        with pytest.raises(TypeError, match="text mode"):
            op(io.StringIO())


class _TextLike:
    """A file-like object without a mode whose read() gives str."""

    def read(self, n=-1):
        return ""


def test_str_reading_object_is_a_type_error():
    with pytest.raises(TypeError, match=r"^load: <_TextLike> is open in text mode"):
        tg.load(_TextLike())


@pytest.mark.parametrize("bad", [b"PK\x03\x04", bytearray(b"x"), 42, None, object()], ids=repr)
def test_not_a_path_or_file_is_a_type_error(tmp_path, bad):
    with pytest.raises(TypeError, match=r"^load: expected a path or a binary file object"):
        tg.load(bad)
    with pytest.raises(TypeError, match=r"^save: expected a path or a binary file object"):
        tg.save({"a": 1}, bad)


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04" + bytes(40), b"\x80\x04N."])
def test_malformed_streams_are_loads_own_error(content):
    with pytest.raises(ValueError, match=r"^load: <BytesIO>: "):
        tg.load(io.BytesIO(content))


def test_errors_name_the_file_objects_file(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"not a checkpoint")
    with open(path, "rb") as f, pytest.raises(ValueError, match=r"^load: .*bad\.pt: not an \.npz archive"):
        tg.load(f)


class _Broken(io.RawIOBase):
    def readable(self):
        return True

    def readinto(self, b):
        raise OSError("device gone")


def test_a_failing_stream_is_loads_own_error():
    with pytest.raises(ValueError, match=r"^load: <_Broken> could not be read \(OSError: device gone\)"):
        tg.load(_Broken())


def test_failed_save_into_a_file_object_raises():
    class Full(WriteOnlyStream):
        def write(self, b):
            raise OSError("no space left on device")

    with pytest.raises(OSError, match="no space"):
        tg.save({"w": tg.Tensor(np.zeros(1000))}, Full())


def test_failure_while_building_writes_nothing_to_a_stream(monkeypatch):
    from tinygrad_rnn import serialization

    def failing_savez(file, **arrays):
        file.write(b"PK partial")
        raise OSError("boom")

    monkeypatch.setattr(serialization.np, "savez", failing_savez)
    sink = WriteOnlyStream()
    with pytest.raises(OSError, match="boom"):
        tg.save({"a": 1}, sink)
    assert sink.buf == b""


# ---- saving Modules and other objects with state ---------------------------------------------------------


def test_saving_a_module_points_to_state_dict(tmp_path):
    model = tg.nn.LSTM(3, 4)
    for target in (tmp_path / "m.npz", io.BytesIO()):
        with pytest.raises(TypeError) as info:
            tg.save(model, target)
        msg = str(info.value)
        assert msg.startswith("save: obj is a Module (LSTM)")
        assert "state_dict()" in msg and "never pickles" in msg
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "obj, where",
    [
        ({"model": tg.nn.Linear(2, 2)}, "obj['model']"),
        ([1, {"m": tg.nn.GRU(2, 2)}], "obj[1]['m']"),
        ((tg.nn.Embedding(3, 2),), "obj[0]"),
    ],
)
def test_a_module_inside_a_checkpoint_is_named(tmp_path, obj, where):
    buf = io.BytesIO()
    with pytest.raises(TypeError, match=rf"^save: {re.escape(where)} is a Module \(\w+\); save its state_dict"):
        tg.save(obj, buf)
    assert buf.getvalue() == b""  # refused before anything was written
    with pytest.raises(TypeError, match="is a Module"):
        tg.save(obj, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_saving_an_optimizer_points_to_state_dict(tmp_path):
    model = tg.nn.Linear(2, 2)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"^save: obj\['opt'\] is a SGD; save its state_dict\(\) instead"):
        tg.save({"opt": opt}, tmp_path / "o.npz")
    tg.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ok.npz")  # the intended way


def test_module_state_dict_round_trip_through_a_file_object():
    model = tg.nn.LSTM(3, 4, num_layers=2)
    buf = io.BytesIO()
    tg.save(model.state_dict(), buf)
    buf.seek(0)
    other = tg.nn.LSTM(3, 4, num_layers=2)
    other.load_state_dict(tg.load(buf))
    for (k, a), (k2, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ---- PyTorch's load arguments --------------------------------------------------------------------------


class FakeDevice:
    type = "cuda"
    index = 0


@pytest.mark.parametrize(
    "map_location",
    [None, "cpu", "cuda", "cuda:0", {"cuda:0": "cpu"}, lambda storage, loc: storage, FakeDevice()],
    ids=["none", "cpu", "cuda", "cuda0", "dict", "callable", "device"],
)
@pytest.mark.parametrize("name", ["checkpoint.pt", "checkpoint_legacy.pt"])
def test_map_location_is_accepted(name, map_location):
    back = tg.load(DATA / name, map_location=map_location)
    ref = tg.load(DATA / name)
    np.testing.assert_array_equal(back["model"]["weight"].numpy(), ref["model"]["weight"].numpy())
    assert type(tg.load(DATA / name, map_location)) is dict  # positional, as torch.load(f, "cpu")


@pytest.mark.parametrize("weights_only", [True, False, None])
def test_weights_only_is_accepted_and_changes_nothing(tmp_path, weights_only):
    back = tg.load(DATA / "lstm_state.pt", weights_only=weights_only)
    assert type(back) is OrderedDict
    buf = io.BytesIO()
    tg.save(sample(), buf)
    buf.seek(0)
    assert_sample(tg.load(buf, weights_only=weights_only, map_location="cpu", mmap=True))


def test_weights_only_false_does_not_enable_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    pkl = b"\x80\x02cbuiltins\nopen\nX" + len(str(marker)).to_bytes(4, "little") + str(marker).encode()
    pkl += b"X\x01\x00\x00\x00w\x86R."
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
    with pytest.raises(ValueError, match=r"^load: .*refuses global builtins\.open"):
        tg.load(path, weights_only=False)
    assert not marker.exists()


@pytest.mark.parametrize("bad", ["yes", 1, 0.0, [True]])
def test_weights_only_must_be_a_bool_or_none(bad):
    with pytest.raises(TypeError, match=r"^load: weights_only must be True, False or None"):
        tg.load(DATA / "lstm_state.pt", weights_only=bad)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        tg.load(DATA / "lstm_state.pt", pickle_module=object())
