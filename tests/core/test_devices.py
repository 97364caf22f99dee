"""PyTorch's device API over one device per process (tinygrad_rnn/device.py)."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import backend, nn
from tinygrad_rnn.device import current

HERE = "cuda" if backend.name == "cupy" else "cpu"
# where tensors live, with its index: 'cpu' on NumPy, 'cuda:<n>' under CuPy (a CUDA tensor names its index, as in
# PyTorch, so it equals tg.device("cuda:0") and not the index-less tg.device("cuda"))
WHERE = current()
OTHER = "cpu" if HERE == "cuda" else "cuda"


@pytest.mark.parametrize(
    "args, kind, index, text",
    [
        (("cpu",), "cpu", None, "cpu"),
        (("cuda",), "cuda", None, "cuda"),
        (("cuda:1",), "cuda", 1, "cuda:1"),
        (("cuda", 2), "cuda", 2, "cuda:2"),
        (("CPU",), "cpu", None, "cpu"),
        ((" cuda:0 ",), "cuda", 0, "cuda:0"),
    ],
)
def test_device_parsing_and_printing(args, kind, index, text):
    d = tg.device(*args)
    assert (d.type, d.index, str(d)) == (kind, index, text)
    assert d == text and d == tg.device(d) and hash(d) == hash(tg.device(text))
    assert repr(d) == (f"device(type='{kind}')" if index is None else f"device(type='{kind}', index={index})")


@pytest.mark.parametrize(
    "args, err",
    [
        (("tpu",), ValueError),
        (("cuda:x",), ValueError),
        (("cuda:1", 2), ValueError),
        (("cuda", -1), ValueError),
        (("cuda", True), ValueError),
        ((3,), TypeError),
        ((None,), TypeError),
    ],
)
def test_bad_devices_are_clear_errors(args, err):
    with pytest.raises(err, match="device"):
        tg.device(*args)


def test_devices_are_immutable_and_compare_with_strings():
    d = tg.device("cuda:0")
    with pytest.raises(AttributeError):
        d.index = 1
    assert d != "cuda:1" and d != "cpu" and d != "not a device" and d != 0


def test_the_portable_idiom_runs():
    device = tg.device("cuda" if tg.cuda.is_available() else "cpu")
    assert str(device) == HERE
    model = nn.LSTM(3, 4)
    assert model.to(device) is model
    x = tg.randn(5, 2, 3).to(device)
    y, (h, c) = model(x)
    assert y.device == WHERE and y.device.type == device.type and h.device.type == HERE
    assert y.is_cuda is (HERE == "cuda") and str(WHERE) == ("cpu" if HERE == "cpu" else f"cuda:{WHERE.index}")
    out = y.cpu().numpy()
    assert isinstance(out, np.ndarray) and out.shape == (5, 2, 4)
    z = tg.zeros(2, 3, device=device)
    assert z.device == WHERE and tg.tensor([1.0], device=device).device == WHERE


def test_moving_to_the_other_device_names_both():
    x, m = tg.ones(2), nn.Linear(2, 2)
    with pytest.raises(ValueError, match=f"lives on '{WHERE}'.*cannot move to '{OTHER}'"):
        x.to(OTHER)
    with pytest.raises(ValueError, match=f"cannot move to '{OTHER}'"):
        m.to(tg.device(OTHER))
    with pytest.raises(ValueError, match=f"cannot move to '{OTHER}'"):
        tg.zeros(2, device=OTHER)
    if HERE == "cpu":
        for call in (x.cuda, m.cuda, lambda: x.cuda(0), lambda: m.cuda("cuda:0")):
            with pytest.raises(ValueError, match="TINYGRAD_RNN_BACKEND=cupy"):
                call()
        with pytest.raises(ValueError, match="cannot move to 'cpu:1'"):
            x.to("cpu:1")


def test_cpu_and_module_cpu_keep_the_same_objects():
    x, m = tg.ones(2), nn.Linear(2, 2)
    assert x.cpu() is x and m.cpu() is m and x.to("cpu" if HERE == "cpu" else "cuda") is x


def test_cuda_namespace_without_a_gpu():
    if HERE == "cuda":
        pytest.skip("checks the NumPy backend")
    assert tg.cuda.is_available() is False and tg.cuda.device_count() == 0
    tg.cuda.synchronize()
    tg.cuda.empty_cache()
    with pytest.raises(RuntimeError, match="no GPU"):
        tg.cuda.current_device()
    tg.cuda.manual_seed_all(3)
    a = tg.randn(3).numpy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.randn(3).numpy(), a)


def test_torch_devices_are_read_and_printed_alike():
    torch = pytest.importorskip("torch")
    for spec in ("cpu", "cuda", "cuda:1"):
        ours, theirs = tg.device(spec), torch.device(spec)
        assert (str(ours), repr(ours), ours.type, ours.index) == (str(theirs), repr(theirs), theirs.type, theirs.index)
        assert tg.device(theirs) == ours
    moved = tg.ones(2).to(torch.device(HERE)).device
    assert moved == WHERE and moved.type == HERE
    with pytest.raises(ValueError, match=f"cannot move to '{OTHER}'"):
        tg.ones(2).to(torch.device(OTHER))
