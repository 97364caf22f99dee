"""``tg.accelerator`` answers as ``torch.accelerator`` does, for this process's one device."""

import tinygrad_rnn as tg
from tinygrad_rnn.device import current


def test_accelerator_matches_the_backend():
    gpu = tg.backend.name == "cupy"
    assert tg.accelerator.is_available() is gpu
    assert tg.accelerator.device_count() == tg.cuda.device_count()
    if gpu:
        assert tg.accelerator.current_accelerator() == tg.device("cuda")
        assert tg.accelerator.current_device_index() == tg.cuda.current_device()
    else:
        assert tg.accelerator.current_accelerator() is None and tg.accelerator.current_device_index() == -1
    tg.accelerator.synchronize()


def test_the_portable_pytorch_2_idiom_picks_this_process_device():
    acc = tg.accelerator.current_accelerator()
    device = acc if tg.accelerator.is_available() else tg.device("cpu")
    x = tg.ones(2).to(device)
    assert x.device.type == device.type == current().type
