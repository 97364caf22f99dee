"""nn.init's in-place initialisers without torch: identity of tensor and array, tied weights, dtypes,
seeds, exact bounds and standard deviations, statistics, errors."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn import init

RANDOM = {
    "uniform_": lambda t: init.uniform_(t, -0.5, 2.0),
    "normal_": lambda t: init.normal_(t, 1.0, 0.3),
    "trunc_normal_": lambda t: init.trunc_normal_(t, std=0.5),
    "xavier_uniform_": lambda t: init.xavier_uniform_(t, gain=2.0),
    "xavier_normal_": lambda t: init.xavier_normal_(t),
    "kaiming_uniform_": lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
    "kaiming_normal_": lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
    "orthogonal_": lambda t: init.orthogonal_(t, gain=0.5),
    "sparse_": lambda t: init.sparse_(t, 0.3),
}
FILLS = {
    "constant_": lambda t: init.constant_(t, 0.25),
    "zeros_": init.zeros_,
    "ones_": init.ones_,
    "eye_": init.eye_,
}
ALL = {**RANDOM, **FILLS}


def _param(shape=(6, 4), dtype=np.float32):
    return nn.Parameter(tg.Tensor(np.full(shape, 7.0, dtype=dtype)))


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_same_tensor_same_array_same_dtype(name, dtype):
    p = _param(dtype=dtype)
    arr = p.array
    out = ALL[name](p)
    assert out is p
    assert p.array is arr, "the backend array must be written in place, not replaced"
    assert p.dtype == dtype and arr.dtype == dtype and p.shape == (6, 4)
    assert not np.any(arr == 7.0)
    assert p.requires_grad and p.is_leaf and p.grad is None


@pytest.mark.parametrize("name", sorted(ALL))
def test_tied_weights_stay_tied_and_an_optimizer_sees_the_new_values(name):
    a, b = nn.Linear(4, 6), nn.Linear(4, 6)
    b.weight = a.weight  # tie
    opt = optim.SGD(a.parameters(), lr=0.1)
    ALL[name](b.weight)
    assert a.weight is b.weight
    held = opt.param_groups[0]["params"][0]
    assert held is a.weight
    np.testing.assert_array_equal(held.numpy(), b.weight.numpy())
    # the optimizer steps from the initialised values
    before = a.weight.numpy().copy()
    a.weight.grad = tg.Tensor(np.ones((6, 4), np.float32))
    opt.step()
    np.testing.assert_allclose(b.weight.numpy(), before - 0.1, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_seeded_reproducible_and_float32_is_float64_rounded(name):
    tg.manual_seed(123)
    x = RANDOM[name](_param(dtype=np.float64)).numpy().copy()
    tg.manual_seed(123)
    y = RANDOM[name](_param(dtype=np.float64)).numpy()
    np.testing.assert_array_equal(x, y)
    tg.manual_seed(123)
    z = RANDOM[name](_param(dtype=np.float32)).numpy()
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z, x.astype(np.float32))
    w = RANDOM[name](_param(dtype=np.float64)).numpy()  # the generator moved on
    assert not np.array_equal(w, x)


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_explicit_generator(name):
    fn = {
        "uniform_": lambda t, g: init.uniform_(t, generator=g),
        "normal_": lambda t, g: init.normal_(t, generator=g),
        "trunc_normal_": lambda t, g: init.trunc_normal_(t, generator=g),
        "xavier_uniform_": lambda t, g: init.xavier_uniform_(t, generator=g),
        "xavier_normal_": lambda t, g: init.xavier_normal_(t, generator=g),
        "kaiming_uniform_": lambda t, g: init.kaiming_uniform_(t, generator=g),
        "kaiming_normal_": lambda t, g: init.kaiming_normal_(t, generator=g),
        "orthogonal_": lambda t, g: init.orthogonal_(t, generator=g),
        "sparse_": lambda t, g: init.sparse_(t, 0.5, generator=g),
    }[name]
    x = fn(_param(), np.random.default_rng(5)).numpy().copy()
    tg.manual_seed(99)  # the library's generator plays no part
    y = fn(_param(), np.random.default_rng(5)).numpy()
    np.testing.assert_array_equal(x, y)
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator or None, got int"):
        fn(_param(), 5)


def test_fills_and_identity_values():
    t = _param((3, 5), np.float64)
    np.testing.assert_array_equal(init.constant_(t, -1.5).numpy(), -1.5)
    np.testing.assert_array_equal(init.zeros_(t).numpy(), 0.0)
    np.testing.assert_array_equal(init.ones_(t).numpy(), 1.0)
    np.testing.assert_array_equal(init.eye_(t).numpy(), np.eye(3, 5))
    np.testing.assert_array_equal(init.eye_(_param((5, 3))).numpy(), np.eye(5, 3))
    ints = tg.Tensor(np.zeros((2, 2), np.int64))
    assert init.constant_(ints, 3).dtype == np.int64 and ints.numpy().tolist() == [[3, 3], [3, 3]]
    assert init.ones_(tg.Tensor(np.zeros(3))).numpy().tolist() == [1.0, 1.0, 1.0]  # 1-d works for fills


def test_dirac():
    w = init.dirac_(_param((4, 2, 3), np.float64))
    expect = np.zeros((4, 2, 3))
    expect[0, 0, 1] = expect[1, 1, 1] = 1
    np.testing.assert_array_equal(w.numpy(), expect)
    w = init.dirac_(_param((6, 3, 3, 3)), groups=2)
    a = w.numpy()
    for g in range(2):
        for d in range(3):
            assert a[g * 3 + d, d, 1, 1] == 1
    assert a.sum() == 6
    assert init.dirac_(_param((2, 2, 3, 3, 3))).numpy().sum() == 2
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(_param((3, 3)))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        init.dirac_(_param((5, 2, 3)), groups=2)


def test_calculate_gain_table_and_errors():
    for name in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "sigmoid"]:
        assert init.calculate_gain(name) == 1
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert init.calculate_gain("leaky_relu", 1) == 1.0
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="negative_slope 0.1 not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")


def test_fans():
    f = init._calculate_fan_in_and_fan_out
    assert f(_param((6, 4))) == (4, 6)
    assert f(_param((8, 3, 5))) == (15, 40)
    assert f(_param((8, 3, 5, 2))) == (30, 80)
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2"):
        f(_param((5,)))
    assert init._calculate_correct_fan(_param((6, 4)), "FAN_OUT") == 6
    with pytest.raises(ValueError, match="Mode fan_avg not supported, please use one of \\['fan_in', 'fan_out'\\]"):
        init.kaiming_uniform_(_param(), mode="fan_avg")
    for fn in (init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            fn(_param((5,)))


BIG = (400, 250)  # 100k draws: sample moments within a few standard errors


@pytest.mark.parametrize("shape", [BIG, (250, 20, 20)])
def test_xavier_and_kaiming_bounds_and_stds(shape):
    fan_in, fan_out = shape[1] * math.prod(shape[2:]), shape[0] * math.prod(shape[2:])
    t = _param(shape, np.float64)
    a = init.xavier_uniform_(t, gain=1.5).numpy()
    bound = 1.5 * math.sqrt(6.0 / (fan_in + fan_out))
    assert a.min() >= -bound and a.max() <= bound and a.max() > 0.999 * bound and a.min() < -0.999 * bound
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    a = init.xavier_normal_(t, gain=0.5).numpy()
    assert a.std() == pytest.approx(0.5 * math.sqrt(2.0 / (fan_in + fan_out)), rel=0.01)
    assert abs(a.mean()) < 0.01 * a.std()
    a = init.kaiming_uniform_(t, a=math.sqrt(5)).numpy()  # Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1 / math.sqrt(fan_in)
    assert a.min() >= -bound and a.max() <= bound and a.max() > 0.999 * bound
    a = init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu").numpy()
    assert a.std() == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.01)
    a = init.kaiming_uniform_(t, a=0.1, nonlinearity="leaky_relu").numpy()
    assert a.std() == pytest.approx(math.sqrt(2.0 / 1.01) / math.sqrt(fan_in), rel=0.01)


def test_uniform_and_normal_statistics():
    t = _param(BIG, np.float64)
    a = init.uniform_(t, -1.0, 3.0).numpy()
    assert a.min() >= -1.0 and a.max() < 3.0
    assert a.mean() == pytest.approx(1.0, abs=0.02) and a.var() == pytest.approx(16 / 12, rel=0.02)
    hist = np.histogram(a, bins=10, range=(-1, 3))[0]
    assert hist.min() > 0.95 * a.size / 10
    a = init.normal_(t, -2.0, 0.5).numpy()
    assert a.mean() == pytest.approx(-2.0, abs=0.005) and a.std() == pytest.approx(0.5, rel=0.01)
    assert np.mean(np.abs(a + 2.0) < 0.5) == pytest.approx(0.6827, abs=0.005)
    assert init.uniform_(t).numpy().min() >= 0.0  # defaults U(0, 1)
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0, but found std -1"):
        init.normal_(t, std=-1)


def test_uniform_stays_half_open_after_rounding_to_float32():
    b = 1.0 + 2.0**-20  # eight float32 values in [1, b): float64 draws near b would round up to b
    x = init.uniform_(_param((100, 100), np.float32), 1.0, b).numpy()
    assert x.min() >= 1.0 and x.max() < np.float32(b)
    assert len(np.unique(x)) == 8


def _truncnorm_moments(mean, std, a, b):
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2
    al, be = (a - mean) / std, (b - mean) / std
    Z = cdf(be) - cdf(al)
    m = mean + std * (pdf(al) - pdf(be)) / Z
    v = std**2 * (1 + (al * pdf(al) - be * pdf(be)) / Z - ((pdf(al) - pdf(be)) / Z) ** 2)
    return m, v


@pytest.mark.parametrize(
    "mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (1.0, 2.0, 1.5, 2.0), (0.0, 1.0, 2.0, 3.0)]
)
def test_trunc_normal_bounds_and_moments(mean, std, a, b):
    t = _param(BIG, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = init.trunc_normal_(t, mean, std, a, b).numpy()
    assert x.min() >= a and x.max() <= b
    m, v = _truncnorm_moments(mean, std, a, b)
    assert x.mean() == pytest.approx(m, abs=4 * math.sqrt(v / x.size))
    assert x.var() == pytest.approx(v, rel=0.02)


def test_trunc_normal_float32_stays_inside_and_warns_far_from_the_interval():
    x = init.trunc_normal_(_param(BIG, np.float32), 0.0, 1.0, -0.3, 0.3).numpy()
    assert x.dtype == np.float32 and x.min() >= np.float32(-0.3) and x.max() <= np.float32(0.3)
    with pytest.warns(UserWarning, match="mean is more than 2 std from \\[a, b\\] in nn.init.trunc_normal_"):
        init.trunc_normal_(_param((3, 3)), mean=10.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(6, 6), (3, 8), (8, 3), (4, 2, 3), (5, 3, 2, 2), (1, 7), (7, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_orthogonal(shape, dtype):
    w = init.orthogonal_(_param(shape, dtype), gain=2.0).numpy().reshape(shape[0], -1).astype(np.float64)
    rows, cols = w.shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    if rows <= cols:
        np.testing.assert_allclose(w @ w.T, 4.0 * np.eye(rows), atol=tol * 4)
    else:
        np.testing.assert_allclose(w.T @ w, 4.0 * np.eye(cols), atol=tol * 4)


def test_orthogonal_is_the_sign_corrected_qr_of_the_seeded_normal_matrix():
    for shape in [(5, 5), (3, 7), (7, 3), (4, 2, 3)]:
        tg.manual_seed(11)
        w = init.orthogonal_(_param(shape, np.float64)).numpy()
        rows = shape[0]
        cols = math.prod(shape) // rows
        a = np.random.default_rng(11).standard_normal((rows, cols))
        q, r = np.linalg.qr(a if rows >= cols else a.T)
        q = q * np.sign(np.diag(r))
        np.testing.assert_allclose(w.reshape(rows, cols), q if rows >= cols else q.T, rtol=0, atol=1e-15)


def test_orthogonal_is_haar_distributed_spot_check():
    """Over many draws every entry of a random orthogonal 3x3 has mean 0 and variance 1/3."""
    g = np.random.default_rng(0)
    t = _param((3, 3), np.float64)
    ws = np.array([init.orthogonal_(t, generator=g).numpy().copy() for _ in range(4000)])
    np.testing.assert_allclose(ws.mean(axis=0), 0.0, atol=0.04)
    np.testing.assert_allclose(ws.var(axis=0), 1 / 3, atol=0.03)
    assert np.all(np.abs(np.linalg.det(ws)) == pytest.approx(1.0))
    assert 0.4 < np.mean(np.linalg.det(ws) > 0) < 0.6  # both orientations


def test_sparse():
    w = init.sparse_(_param((10, 40), np.float64), sparsity=0.25, std=0.5).numpy()
    assert np.all((w == 0).sum(axis=0) == 3)  # ceil(0.25 * 10) per column
    nz = w[w != 0]
    assert nz.std() == pytest.approx(0.5, rel=0.15)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.sparse_(_param((2, 3, 4)), 0.1)


def test_errors_and_non_float_tensors():
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(_param((2, 2, 2)))
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(_param((4,)))
    with pytest.raises(TypeError, match="uniform_: expected a floating-point tensor, got dtype int64"):
        init.uniform_(tg.Tensor(np.zeros(3, np.int64)))
    with pytest.raises(TypeError, match="normal_: expected a Tensor, got ndarray"):
        init.normal_(np.zeros(3))


def test_empty_tensors():
    e = _param((0, 3))
    init.uniform_(e)
    init.normal_(e)
    init.orthogonal_(e)
    init.zeros_(e)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(e) is e
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_normal_(e)


def test_writes_through_to_a_shared_numpy_array_like_from_numpy():
    host = np.zeros((2, 3))
    t = tg.Tensor(host)
    if t.array is host:  # NumPy backend: the tensor wraps the caller's array, as torch.from_numpy does
        init.ones_(t)
        np.testing.assert_array_equal(host, 1.0)


def test_read_only_arrays_are_replaced_keeping_the_tensor():
    ro = np.zeros((2, 3))
    ro.setflags(write=False)
    t = tg.Tensor(ro)
    if t.array is ro:
        assert init.ones_(t) is t
        np.testing.assert_array_equal(t.numpy(), 1.0)
        np.testing.assert_array_equal(ro, 0.0)


def test_nothing_is_recorded_under_grad_mode():
    p = _param()
    with tg.enable_grad():
        init.xavier_uniform_(p)
    assert p.is_leaf and p.grad_fn is None
    loss = (p * p).sum()
    loss.backward()
    np.testing.assert_allclose(p.grad.numpy(), 2 * p.numpy())


def test_the_layers_constructors_still_work():
    tg.manual_seed(0)
    w = init.uniform((3, 4), 0.5)
    assert isinstance(w, nn.Parameter) and w.shape == (3, 4) and np.abs(w.numpy()).max() <= 0.5
    e = init.normal((5, 2), std=2.0, dtype=np.float64)
    assert e.dtype == np.float64 and e.shape == (5, 2)
    assert init.fan_in_bound(16) == 0.25 and init.fan_in_bound(0) == 0.0


def test_reinitialising_a_whole_lstm_like_pytorch_code_does():
    lstm = nn.LSTM(3, 5, num_layers=2)
    arrays = {n: p.array for n, p in lstm.named_parameters()}
    for name, p in lstm.named_parameters():
        if "weight_hh" in name:
            init.orthogonal_(p)
        elif "weight_ih" in name:
            init.xavier_uniform_(p)
        else:
            init.zeros_(p)
    for name, p in lstm.named_parameters():
        assert p.array is arrays[name]
    w = lstm.weight_hh_l0.numpy().astype(np.float64)  # (4H, H): orthonormal columns
    np.testing.assert_allclose(w.T @ w, np.eye(5), atol=1e-5)
    assert np.all(lstm.bias_ih_l1.numpy() == 0)
