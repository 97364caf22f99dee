"""The CuPy stand-in (tests/fake_gpu): each rule it enforces, checked against what CuPy 13 does.

The stand-in is loaded under another module name, so this file (which runs in the NumPy suite)
never puts a ``cupy`` module into ``sys.modules``. ``CUPY_STANDIN_DIR`` points the loader at another
copy of tests/fake_gpu (used to check that these tests fail when a rule is broken).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import pathlib
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STANDIN = pathlib.Path(os.environ.get("CUPY_STANDIN_DIR", ROOT / "tests" / "fake_gpu"))
ALIAS = "_cupy_standin_under_test"


def _load():
    if ALIAS in sys.modules:
        return sys.modules[ALIAS]
    pkg = STANDIN / "cupy"
    spec = importlib.util.spec_from_file_location(ALIAS, pkg / "__init__.py", submodule_search_locations=[str(pkg)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[ALIAS] = mod
    spec.loader.exec_module(mod)
    return mod


_before = set(sys.modules)
cp = _load()
_added_by_load = set(sys.modules) - _before
standin = cp._standin
cupyx = cp._cupyx


def dev(*shape, dtype=np.float32):
    return cp.arange(int(np.prod(shape)) if shape else 1, dtype=dtype).reshape(shape)


def test_loading_leaves_no_cupy_module():
    # (under TINYGRAD_RNN_BACKEND=cupy the backend itself imported a cupy before this file was loaded)
    assert [m for m in _added_by_load if m.split(".")[0] in ("cupy", "cupyx")] == []
    assert all(m == ALIAS or m.startswith(ALIAS + ".") for m in _added_by_load if "cupy" in m)
    assert cp.__standin__ is True and cp.__version__.startswith("13.")


# ---- rule 1: its own class, no implicit conversion to host --------------------------------------
def test_ndarray_is_not_a_numpy_subclass_and_refuses_implicit_conversion():
    x = dev(3)
    assert not isinstance(x, np.ndarray) and not issubclass(cp.ndarray, np.ndarray)
    msg = "Implicit conversion to a NumPy array is not allowed"
    for convert in (np.asarray, np.array, lambda a: np.array([a, a]), lambda a: np.float32(a)):
        with pytest.raises(TypeError, match=msg):
            convert(x)
    assert isinstance(x.get(), np.ndarray) and cp.asnumpy(x).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(TypeError):
        memoryview(x)


# ---- rule 2: host arrays are no operands -----------------------------------------------------------
HOSTS = [np.ones(3, np.float32), np.array(2.0)]  # a 0-d host array is refused too


@pytest.mark.parametrize("h", HOSTS, ids=["1-d", "0-d"])
@pytest.mark.parametrize(
    "op",
    [
        lambda x, h: x + h, lambda x, h: h + x, lambda x, h: x * h, lambda x, h: h - x, lambda x, h: x @ h,
        lambda x, h: cp.add(x, h), lambda x, h: cp.maximum(h, x), lambda x, h: cp.where(x > 0, x, h),
        lambda x, h: cp.concatenate([x, h]), lambda x, h: cp.stack([x, h]), lambda x, h: cp.matmul(x, h),
        lambda x, h: cp.dot(x, h), lambda x, h: x.dot(h), lambda x, h: cp.add(x, x, out=h),
        lambda x, h: np.add(x, h), lambda x, h: np.maximum(h, x), lambda x, h: np.concatenate([x, h]),
        lambda x, h: cp.clip(x, h, 3), lambda x, h: cp.copyto(x, np.broadcast_to(h, (3,))),
    ],
)  # fmt: skip
def test_host_array_operand_is_a_type_error(op, h):
    x = dev(3)
    with pytest.raises((TypeError, ValueError)) as e:
        op(x, h)
    assert e.type is TypeError or "numpy.ndarray" in str(e.value)


def test_inplace_with_host_array_is_a_type_error():
    x = dev(3)
    with pytest.raises(TypeError):
        x += np.ones(3, np.float32)


def test_scalars_are_fine_and_follow_cupy13_promotion():
    x = dev(3)
    for s in (2, 2.0, True, np.float32(2), np.float64(2), np.int64(2)):
        assert isinstance(x * s, cp.ndarray) and isinstance(s * x, cp.ndarray)
    # CuPy 13's NumPy-1-like rule: a NumPy scalar of no higher kind does not upcast (NumPy 2 gives float64)
    assert (x * np.float64(2)).dtype == np.float32
    assert (cp.arange(3, dtype=np.int32) * np.float32(2)).dtype == np.float64  # higher kind: it does
    assert (cp.arange(3, dtype=np.int8) + np.int64(1)).dtype == np.int8


def test_host_to_device_copies_that_cupy_allows():
    h = np.arange(3.0)
    for make in (cp.asarray, cp.array, cp.asanyarray):
        d = make(h)
        assert isinstance(d, cp.ndarray) and not np.shares_memory(d.get(), h)
    assert cp.array([dev(2), dev(2)]).shape == (2, 2)  # a list of device arrays: stacked on the device
    with pytest.raises(TypeError, match="Implicit conversion"):
        cp.array([dev(), 1.0])  # mixed with scalars: CuPy hands it to NumPy
    with pytest.raises(TypeError):
        cp.ascontiguousarray(h)  # typed `_ndarray_base a` in CuPy
    assert cp.allclose(dev(3), np.arange(3.0)).item()  # allclose/isclose convert (cupy.asanyarray)
    assert isinstance(cp.copy(h), np.ndarray)  # cupy.copy(a) is a.copy(): a host array stays on the host


def test_setitem_values():
    x = cp.zeros(3, dtype=np.float32)
    x[...] = 1.5
    x[1:] = dev(2)
    x[0] = np.array(7.0)  # a 0-d host array fills (ndarray.fill takes its value)
    assert x.tolist() == [7.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        x[...] = np.ones(3, np.float32)  # CuPy: ValueError (the brief's TypeError is not what CuPy raises)
    with pytest.raises(TypeError, match="Unsupported type"):
        x[...] = [1.0, 2.0, 3.0]
    x[cp.array([0, 2])] = np.array([5.0, 6.0])  # advanced index: the value goes through cupy.array
    assert x.tolist() == [5.0, 0.0, 6.0]
    x.set(np.full(3, 9, np.float32))
    assert x.tolist() == [9.0] * 3
    with pytest.raises(TypeError):
        x.set([1.0, 2.0, 3.0])


def test_comparison_with_a_0d_host_array_is_allowed_as_in_cupy():
    # core.pyx __richcmp__ and __array_ufunc__ read a 0-d host array in a comparison as its value
    assert (dev(3) < np.array(1.5)).tolist() == [True, True, False]


# ---- rule 3 ------------------------------------------------------------------------------------------
def test_unhashable():
    with pytest.raises(TypeError):
        hash(dev(2))
    with pytest.raises(TypeError):
        {dev(2): 1}  # noqa: B018


# ---- rule 4: reductions and integer indexing give 0-d device arrays ------------------------------
@pytest.mark.parametrize(
    "f",
    [
        lambda x: x.sum(), lambda x: x.mean(), lambda x: x.max(), lambda x: x.min(), lambda x: x.prod(),
        lambda x: x.argmax(), lambda x: x.all(), lambda x: x.any(), lambda x: x.std(), lambda x: x.var(),
        lambda x: x.dot(x), lambda x: x[0], lambda x: cp.sum(x), lambda x: cp.max(x), lambda x: cp.dot(x, x),
        lambda x: np.sum(x), lambda x: np.mean(x), lambda x: np.max(x), lambda x: cp.count_nonzero(x),
        lambda x: cp.linalg.norm(x), lambda x: np.linalg.norm(x), lambda x: cp.allclose(x, x), lambda x: x @ x,
        lambda x: cp.array_equal(x, x), lambda x: x.take(1), lambda x: cp.add.reduce(x),
    ],
)  # fmt: skip
def test_scalars_stay_on_the_device(f):
    r = f(dev(4))
    assert type(r) is cp.ndarray and r.shape == ()


def test_integer_index_is_a_view():
    x = dev(2, 3).copy()
    x[1][2] = 100.0
    assert x[1, 2].item() == 100.0 and x[0].base is x
    v = x[0, 1]  # every axis indexed: a 0-d view (NumPy would give a scalar)
    v[...] = -3.0
    assert x[0, 1].item() == -3.0 and v.base is x and isinstance(v.get(), np.ndarray)


# ---- rule 5: integer array indices wrap ----------------------------------------------------------------
def test_out_of_range_array_indices_wrap():
    x = cp.arange(3)
    assert x[cp.array([1, 3])].tolist() == [1, 0]  # CuPy's own docstring example
    assert x[[-1, -4, 5]].tolist() == [2, 2, 2]
    assert x[np.array([4])].tolist() == [1]
    assert x.take(cp.array([3, -4])).tolist() == [0, 2] and x.take(7).item() == 1
    assert cp.take(dev(2, 3), cp.array([5]), axis=1).tolist() == [[2.0], [5.0]]
    m = cp.arange(6).reshape(2, 3)
    assert m[cp.array([2]), cp.array([4])].tolist() == [1]
    y = cp.zeros(3)
    y[cp.array([1, 3])] = 10
    assert y.tolist() == [10.0, 10.0, 0.0]
    z = cp.zeros(3, dtype=np.float32)
    with pytest.warns(DeprecationWarning):
        cupyx.scatter_add(z, cp.array([4, 4, -1]), cp.ones(3, dtype=np.float32))
    assert z.tolist() == [0.0, 2.0, 1.0]
    cp.add.at(z, cp.array([3]), 1.0)
    assert z.tolist() == [1.0, 2.0, 1.0]


def test_scalar_index_out_of_range_still_raises():
    with pytest.raises(IndexError):
        cp.arange(3)[3]
    with pytest.raises(IndexError):
        cp.arange(3)[-4]


def test_put_wraps_by_default():
    x = cp.zeros(3)
    x.put(cp.array([4]), cp.array([1.0]))
    assert x.tolist() == [0.0, 1.0, 0.0]


def test_scatter_add_dtypes_are_cupys():
    with pytest.raises(TypeError, match="only supports"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cupyx.scatter_add(cp.zeros(3, dtype=np.int64), cp.array([0]), 1)  # no atomicAdd for int64


# ---- rule 6: only CuPy's names --------------------------------------------------------------------
NUMPY_ONLY = ["bitwise_count", "unstack", "cumulative_sum", "vecdot", "matrix_transpose", "astype"]


@pytest.mark.parametrize("name", NUMPY_ONLY)
def test_numpy_only_functions_are_absent(name):
    assert hasattr(np, name) and name not in cp._names.CUPY
    with pytest.raises(AttributeError, match="has no attribute"):
        getattr(cp, name)


def test_numpy_only_function_on_a_device_array_is_a_type_error():
    with pytest.raises(TypeError):
        np.unstack(dev(2, 2))
    with pytest.raises(TypeError):
        np.bitwise_count(cp.arange(3))  # a NumPy 2 ufunc CuPy 13 lacks: __array_ufunc__ gives NotImplemented


def test_namespace_is_within_the_allowlist_and_covers_the_library():
    public = {k for k in dir(cp) if not k.startswith("_")}
    assert public <= set(cp._names.CUPY)
    used = (
        "asarray zeros empty where multiply ones stack zeros_like tanh sqrt full dot arange float64 flip exp "
        "subtract isfinite concatenate add abs maximum copyto ascontiguousarray tri ndarray log inf float32 eye "
        "cumsum broadcast_to sin power matmul isneginf int64 expand_dims cumprod cos clip asnumpy array argsort "
        "true_divide triu transpose tile sign reshape pad not_equal nextafter minimum may_share_memory log1p "
        "less_equal less isnan greater_equal greater get_default_memory_pool equal empty_like"
    ).split()
    assert [n for n in used if not hasattr(cp, n)] == []
    assert hasattr(cp.random, "default_rng") and hasattr(cp.cuda.runtime, "getDevice")


def test_ndarray_members_are_cupys():
    nd = cp._names.NDARRAY
    ours = {k for k in dir(cp.ndarray) if not k.startswith("_")}
    assert ours - set(nd) == set()
    x = dev(2, 2)
    for absent in ("mT", "byteswap", "resize", "setflags", "getfield", "to_device", "__array_namespace__"):
        assert hasattr(np.ndarray, absent)
        with pytest.raises(AttributeError):
            getattr(x, absent)
    assert not hasattr(x.flags, "writeable")


def test_cupy_signatures_refuse_numpy_only_keywords():
    x = dev(3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        cp.sum(x, where=x > 0)
    with pytest.raises(TypeError):
        x.argsort(kind="stable")
    with pytest.raises(TypeError):
        x.sort(kind="stable")
    with pytest.raises(TypeError, match="Wrong arguments"):
        cp.add(x, x, where=x > 0)  # CuPy's ufuncs take out/dtype/casting only


def test_ufunc_methods_exist_only_where_cupy_has_them():
    x = dev(4)
    cp.maximum.at(x, cp.array([0]), 9.0)
    assert x[0].item() == 9.0
    for u in (cp.subtract, cp.multiply, cp.power):
        with pytest.raises(NotImplementedError, match="at` is not supported"):
            u.at(x, cp.array([0]), 1.0)
    assert cp.multiply.reduce(dev(3) + 1).item() == 6.0
    with pytest.raises(NotImplementedError):
        cp.maximum.reduce(x)
    with pytest.raises(NotImplementedError):
        np.maximum.reduce(x)  # NumPy's call lands on the stand-in's ufunc


# ---- rule 7: NumPy calls dispatch to the stand-in ----------------------------------------------------
def test_numpy_functions_give_device_arrays():
    x = dev(2, 2)
    for r in (np.exp(x), np.concatenate([x, x]), np.where(x > 1, x, 0.0), np.linalg.inv(x + cp.eye(2)),
              np.transpose(x), np.add(x, 1, out=cp.empty((2, 2), dtype=np.float32))):  # fmt: skip
        assert type(r) is cp.ndarray
    out = cp.empty((2, 2), dtype=np.float32)
    assert np.multiply(x, 2, out=out) is out


# ---- rule 8: every synchronisation is counted -------------------------------------------------------
SYNCING = [
    ("item", lambda x: x[0].item()), ("float", lambda x: float(x[0])), ("int", lambda x: int(x[0])),
    ("bool", lambda x: bool(x[0])), ("complex", lambda x: complex(x[0])), ("tolist", lambda x: x.tolist()),
    ("get", lambda x: x.get()), ("asnumpy", lambda x: cp.asnumpy(x)), ("repr", lambda x: repr(x)),
    ("str", lambda x: str(x)), ("format", lambda x: f"{x[0]:.2f}"), ("mask", lambda x: x[x > 1]),
    ("mask setitem", lambda x: x.__setitem__(x > 1, 0.0)), ("nonzero", lambda x: cp.nonzero(x)),
    ("method nonzero", lambda x: x.nonzero()), ("argwhere", lambda x: cp.argwhere(x)),
    ("flatnonzero", lambda x: cp.flatnonzero(x)), ("unique", lambda x: cp.unique(x)),
    ("compress", lambda x: cp.compress(cp.array([True, False, True, True]), x)),
    ("where 1-arg", lambda x: cp.where(x > 1)), ("host mask", lambda x: x[np.array([True, False, True, False])]),
    ("pickle", lambda x: pickle.dumps(x)), ("bincount", lambda x: cp.bincount(cp.arange(3))),
    ("stream sync", lambda x: cp.cuda.get_current_stream().synchronize()),
    ("device sync", lambda x: cp.cuda.Device(0).synchronize()),
]  # fmt: skip


@pytest.mark.parametrize("f", [f for _, f in SYNCING], ids=[k for k, _ in SYNCING])
def test_each_synchronisation_is_counted(f):
    x = dev(4)
    with standin.counting() as c:
        f(x)
    assert c.n == 1, c.where()
    kind, where = c.events[0]
    assert where.startswith(os.path.relpath(__file__)), where


NOT_SYNCING = [
    lambda x: x + 1, lambda x: x.sum(), lambda x: x[1:], lambda x: x[cp.array([0, 1])], lambda x: list(x),
    lambda x: len(x), lambda x: x.shape, lambda x: cp.where(x > 1, x, 0.0), lambda x: cp.stack([x.sum(), x.max()]),
    lambda x: cp.asarray([x[0], x[1]]), lambda x: x.astype(np.float64), lambda x: x.reshape(2, 2),
    lambda x: cp.random.default_rng(0).random(3), lambda x: x[cp.zeros(4, dtype=bool)] if False else x.copy(),
    lambda x: cp.cuda.Event().record(), lambda x: cp.cuda.Stream(non_blocking=True).done,
]  # fmt: skip


@pytest.mark.parametrize("f", NOT_SYNCING)
def test_device_work_does_not_synchronise(f):
    with standin.counting() as c:
        f(dev(4))
    assert c.n == 0, c.where()


def test_sync_counter_api():
    standin.reset()
    assert standin.syncs() == 0
    x = dev(2)
    float(x[0])
    x.tolist()
    assert standin.syncs() == 2
    with standin.counting() as outer, standin.counting() as inner:
        x.item() if x.size == 1 else x[0].item()
    assert outer.n == inner.n == 1 and "item" in outer.where()
    with pytest.raises(standin.SyncForbidden, match="item"), standin.forbidding():
        x[0].item()


def test_empty_mask_and_empty_bool_do_not_sync():
    x = dev(3)
    with standin.counting() as c:
        x[cp.zeros(0, dtype=bool)] if False else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert bool(cp.zeros(0)) is False
    assert c.n == 0


def test_trace_env_prints_each_sync():
    code = f"import sys; sys.path.insert(0, {str(STANDIN)!r}); import cupy\nx = cupy.arange(3)\nfloat(x[0])\n"
    env = {**os.environ, "CUPY_STANDIN_TRACE_SYNCS": "1"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "[cupy stand-in] sync #1 (float)" in r.stderr and "<string>:3" in r.stderr


def test_allow_synchronize_false_raises():
    x = dev(2)
    with pytest.warns(UserWarning), cupyx.allow_synchronize(False), pytest.raises(cupyx.DeviceSynchronized):
        x.get()


# ---- rule 9: cupy.cuda --------------------------------------------------------------------------------
def test_cuda_api():
    rt = cp.cuda.runtime
    assert rt.getDeviceCount() == 1 and rt.getDevice() == 0
    free, total = rt.memGetInfo()
    assert 0 < free <= total
    d = cp.cuda.Device(0)
    d.use()
    with d as same:
        assert same.id == 0 and d.compute_capability.isdigit()
    with pytest.raises(rt.CUDARuntimeError):
        cp.cuda.Device(1).use()
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        assert cp.cuda.get_current_stream() is s
    assert cp.cuda.get_current_stream() is not s and isinstance(s.ptr, int)
    a, b = cp.cuda.Event(), cp.cuda.Event()
    a.record()
    s.wait_event(a)
    b.record(s)
    assert a.done and b.done and s.done and cp.cuda.get_elapsed_time(a, b) >= 0.0
    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    assert pool.used_bytes() >= 0 and pool.total_bytes() >= 0
    cp.get_default_pinned_memory_pool().free_all_blocks()
    assert cp.get_array_module(dev(1)) is cp and cp.get_array_module(np.ones(1)) is np
    x = dev(4)
    assert x[2:].data.ptr == x.data.ptr + 2 * x.itemsize and x.device.id == 0
    assert x.__cuda_array_interface__["shape"] == (4,)


# ---- views, memory and arithmetic details ------------------------------------------------------------
def test_views_share_memory_with_their_base():
    x = dev(3, 4).copy()
    assert x.base is None and x.flags.owndata and dev(3, 4).base is not None
    for v in (x[1], x[:, 1:3], x.T, x.reshape(12), x.ravel(), x.view(), cp.transpose(x), x.swapaxes(0, 1),
              x.diagonal(), cp.broadcast_to(x[0], (2, 4)), cp.expand_dims(x, 0), x[None]):  # fmt: skip
        assert cp.shares_memory(v, x) and cp.may_share_memory(v, x)
        assert v.base is x, type(v)
    x.diagonal()[...] = -1.0  # CuPy arrays are never read-only (NumPy's diagonal and broadcast_to are)
    cp.broadcast_to(x[0], (2, 4))[0, 0] = -2.0
    assert x[0, 0].item() == -2.0 and x[1, 1].item() == -1.0
    assert not cp.shares_memory(x.copy(), x) and not cp.shares_memory(x + 0, x)


def test_no_floating_point_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = cp.concatenate([cp.log(cp.zeros(1)), cp.array([1.0, 0.0]) / 0.0, cp.sqrt(cp.array([-1.0]))])
        i = cp.arange(2) // 0
    assert r.tolist()[:2] == [-np.inf, np.inf] and np.isnan(r.get()[2:]).all() and i.tolist() == [0, 0]


def test_ndarray_protocols():
    x = dev(3)
    assert [type(e) for e in x] == [cp.ndarray] * 3 and len(x) == 3
    assert copy.copy(x).tolist() == copy.deepcopy(x).tolist() == pickle.loads(pickle.dumps(x)).tolist()
    with pytest.raises(TypeError):
        len(dev())
    with pytest.raises(TypeError):
        range(10)[cp.array(1)]  # CuPy 13's ndarray has no __index__
    with pytest.raises(ValueError):
        bool(dev(2))
    assert (x == None).tolist() == [False] * 3  # noqa: E711  (CuPy compares to None elementwise)
    assert x.astype(np.float32, copy=False) is x and x.conj() is x and x.real is x
    with pytest.raises(TypeError, match="casting"):
        x.astype(np.float64, casting="unsafe")
    with pytest.raises(ValueError, match="Unsupported dtype"):
        cp.array(["a"])


# ---- rules 11-14 ---------------------------------------------------------------------------------------
def test_random():
    g = cp.random.default_rng(0)
    for r in (g.random(3), g.random((2, 2), dtype=np.float32), g.standard_normal(3), g.integers(0, 5, 3),
              g.uniform(size=2), g.exponential(size=2), g.poisson(1.0, size=2)):  # fmt: skip
        assert type(r) is cp.ndarray
    assert g.random((2,), dtype=np.float32).dtype == np.float32
    for absent in ("normal", "choice", "permutation", "shuffle"):
        assert not hasattr(g, absent)  # CuPy 13's Generator has none of these
    cp.random.seed(1)
    assert cp.random.rand(2, 3).shape == (2, 3) and cp.random.randn(2).dtype == np.float64
    assert cp.random.normal(0, 1, (2,), dtype=np.float32).dtype == np.float32
    assert type(cp.random.randint(0, 4, 3)) is cp.ndarray and isinstance(cp.random.RandomState(0), object)


def test_dtypes_are_numpys():
    for n in ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool_", "complex64"):
        assert getattr(cp, n) is getattr(np, n)
    assert cp.dtype is np.dtype and cp.inf == np.inf and np.isnan(cp.nan) and cp.newaxis is None
    assert cp.pi == np.pi and cp.e == np.e
    assert cp.zeros(2, dtype=np.float16).dtype == np.float16 and (cp.ones(2) * 1j).dtype == np.complex128


def test_cupyx_scatter_max_min():
    x = cp.zeros(3, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cupyx.scatter_max(x, cp.array([0, 3]), cp.array([5.0, 7.0], dtype=np.float32))
        cupyx.scatter_min(x, cp.array([1]), cp.array([-1.0], dtype=np.float32))
    assert x.tolist() == [7.0, -1.0, 0.0]


def test_kernels_exist_but_raise():
    for k in (cp.ElementwiseKernel, cp.RawKernel, cp.ReductionKernel):
        with pytest.raises(NotImplementedError, match="compiles no kernels"):
            k("T x", "T y", "y = x", "copy")
    f = cp.fuse(lambda a: a + 1)
    with pytest.raises(NotImplementedError):
        f(dev(2))


def test_not_emulated_names_say_so():
    with pytest.raises(AttributeError, match="does not emulate"):
        cp.sparse  # noqa: B018


# ---- the library on the stand-in ---------------------------------------------------------------------
def test_library_selects_the_standin_backend():
    code = (
        "import cupy, tinygrad_rnn as tg\nfrom tinygrad_rnn import backend\n"
        "assert cupy.__standin__ and backend.name == 'cupy' and backend.xp is cupy\n"
        "t = tg.tensor([1.0, 2.0]); print(type(t.array).__module__, (t * 2).sum().item())\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{STANDIN}{os.pathsep}{ROOT}", "TINYGRAD_RNN_BACKEND": "cupy"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["cupy", "6.0"]


def test_cupyx_scipy_special_erf():
    spec = importlib.util.spec_from_file_location(f"{ALIAS}._special", STANDIN / "cupy" / "_special.py")
    special = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = special
        spec.loader.exec_module(special)
    r = special.erf(cp.array([0.0, 1.0], dtype=np.float32))
    assert type(r) is cp.ndarray and r.dtype == np.float32 and abs(r[1].item() - 0.8427008) < 1e-6
    with pytest.raises(TypeError):
        special.erf(np.zeros(2))


def test_copyto_reads_a_one_element_host_array_as_a_scalar():
    x = cp.zeros(3)
    cp.copyto(x, np.array([2.0]))  # cupy/_manipulation/basic.py: size 1 -> .item()
    assert x.tolist() == [2.0] * 3
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        cp.copyto(x, np.ones(3))
    with pytest.raises(TypeError):
        cp.copyto(x, x, where=np.ones(3, bool))  # where= goes to a ufunc: a host mask is refused
