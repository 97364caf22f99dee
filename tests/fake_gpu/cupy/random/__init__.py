"""cupy.random: the names of cupy/random/__init__.py (v13.6.0) over NumPy's generators.

Values differ from CuPy's (its bit generators are cuRAND's); shapes, dtypes and the API do not.
``default_rng(seed)`` gives a ``Generator`` with only the methods CuPy 13's Generator has (no
``normal``, ``choice``, ``permutation``...); the legacy functions go through one ``RandomState``.
Results are device arrays, made without a synchronisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _names
from .._core import host_error, ndarray, new

_FLOAT_DTYPES = (np.float32, np.float64)


def _dev(x: Any) -> Any:
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        raise host_error(x, "cupy.random")
    if isinstance(x, (list, tuple)):
        return type(x)(_dev(e) for e in x)
    return x


def _out(r: Any, dtype: Any = None) -> ndarray:
    a = np.asarray(r)
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return new(a)


class BitGenerator:
    def __init__(self, seed: Any = None) -> None:
        self._seed = seed
        self._np = np.random.default_rng(seed)

    def random_raw(self, size: Any = None, output: bool = True) -> ndarray:
        return _out(self._np.integers(0, 2**32, size=size, dtype=np.uint64))


class XORWOW(BitGenerator):
    pass


class MRG32k3a(BitGenerator):
    pass


class Philox4x3210(BitGenerator):
    pass


class Generator:
    """cupy/random/_generator_api.pyx ``Generator``: its methods only."""

    def __init__(self, bit_generator: BitGenerator) -> None:
        self.bit_generator = bit_generator
        self._g = bit_generator._np

    def _check_out(self, out: Any, dtype: Any, size: Any) -> None:
        if type(out) is not ndarray:
            raise TypeError(f"Unsupported type {type(out)} for out=")
        if out.dtype != np.dtype(dtype):
            raise TypeError(f"Supplied output array has the wrong type. Expected {np.dtype(dtype).name}, "
                            f"got {out.dtype.name}")  # fmt: skip
        if size is not None and tuple(np.atleast_1d(size)) != out.shape:
            raise ValueError("size must match out.shape when used together")

    def _float(self, draw: Any, size: Any, dtype: Any, out: Any) -> ndarray:
        dt = np.dtype(dtype)
        if dt.type not in _FLOAT_DTYPES:
            raise TypeError(f"Unsupported dtype {dt.name} for random")
        if out is not None:
            self._check_out(out, dt, size)
            out._a[...] = draw(out.shape, dt)
            return out
        return _out(draw(size, dt))

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> ndarray:
        return self._float(lambda s, d: self._g.random(s, dtype=d), size, dtype, out)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> ndarray:
        return self._float(lambda s, d: self._g.standard_normal(s, dtype=d), size, dtype, out)

    def standard_exponential(self, size=None, dtype=np.float64, method="zig", out=None) -> ndarray:
        return self._float(lambda s, d: self._g.standard_exponential(s, dtype=d), size, dtype, out)

    def standard_gamma(self, shape: Any, size=None, dtype=np.float64, out=None) -> ndarray:
        return self._float(lambda s, d: self._g.standard_gamma(_dev(shape), s).astype(d), size, dtype, out)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None, dtype: Any = np.float64) -> ndarray:
        return _out(self._g.uniform(_dev(low), _dev(high), size), dtype)

    def integers(self, low: Any, high: Any = None, size: Any = None, dtype: Any = np.int64, endpoint: bool = False):
        return _out(self._g.integers(_dev(low), _dev(high), size, dtype=dtype, endpoint=endpoint))

    def beta(self, a: Any, b: Any, size: Any = None, dtype: Any = np.float64) -> ndarray:
        return _out(self._g.beta(_dev(a), _dev(b), size), dtype)


def _generator_method(name: str, params: list[str]) -> Any:
    def method(self: Generator, *args: Any, **kwargs: Any) -> ndarray:
        for k in kwargs:
            if k not in params:
                raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
        return _out(getattr(self._g, name)(*_dev(args), **{k: _dev(v) for k, v in kwargs.items()}))

    method.__name__ = name
    return method


for _name, _params in _names.GENERATOR.items():
    if not _name.startswith("_") and not hasattr(Generator, _name):
        setattr(Generator, _name, _generator_method(_name, _params))


def default_rng(seed: Any = None) -> Generator:
    return Generator(XORWOW(seed))


class RandomState:
    """cupy/random/_generator.py ``RandomState`` (legacy API): its methods, with CuPy's ``dtype=``."""

    def __init__(self, seed: Any = None, method: Any = None) -> None:
        self._rs = np.random.RandomState(seed)

    def seed(self, seed: Any = None) -> None:
        self._rs.seed(seed)

    def rand(self, *size: Any, **kwarg: Any) -> ndarray:
        dtype = kwarg.pop("dtype", float)
        if kwarg:
            raise TypeError(f"rand() got unexpected keyword arguments {', '.join(kwarg)}")
        return _out(self._rs.random_sample(size or None), dtype)

    def randn(self, *size: Any, **kwarg: Any) -> ndarray:
        dtype = kwarg.pop("dtype", float)
        if kwarg:
            raise TypeError(f"randn() got unexpected keyword arguments {', '.join(kwarg)}")
        return _out(self._rs.standard_normal(size or None), dtype)

    def random_sample(self, size: Any = None, dtype: Any = float) -> ndarray:
        return _out(self._rs.random_sample(size), dtype)

    def randint(self, low: Any, high: Any = None, size: Any = None, dtype: Any = "l") -> ndarray:
        return _out(self._rs.randint(low, high, size, dtype=np.dtype(dtype)))

    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None) -> ndarray:
        return _out(self._rs.choice(_dev(a), size, replace, _dev(p)))

    def permutation(self, num: Any) -> ndarray:
        return _out(self._rs.permutation(_dev(num)))

    def shuffle(self, a: Any) -> None:
        if type(a) is not ndarray:
            raise TypeError("The array must be cupy.ndarray")
        self._rs.shuffle(a._a)


def _legacy_method(name: str, params: list[str]) -> Any:
    np_name = {"tomaxint": "randint"}.get(name, name)

    def method(self: RandomState, *args: Any, **kwargs: Any) -> ndarray:
        for k in kwargs:
            if k not in params:
                raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
        dtype = kwargs.pop("dtype", None)
        f = getattr(self._rs, np_name)
        if "dtype" in params and len(args) > params.index("dtype"):  # dtype given positionally
            dtype = args[params.index("dtype")]
            args = args[: params.index("dtype")]
        return _out(f(*_dev(args), **{k: _dev(v) for k, v in kwargs.items()}), dtype)

    method.__name__ = name
    return method


for _name, _params in _names.RANDOMSTATE.items():
    if not _name.startswith("_") and not hasattr(RandomState, _name) and hasattr(np.random.RandomState, _name):
        setattr(RandomState, _name, _legacy_method(_name, _params))

_state: RandomState | None = None


def get_random_state() -> RandomState:
    global _state
    if _state is None:
        _state = RandomState()
    return _state


def set_random_state(rs: RandomState) -> None:
    global _state
    _state = rs


def reset_states() -> None:
    global _state
    _state = None


def seed(seed: Any = None) -> None:
    get_random_state().seed(seed)


def rand(*size: Any, **kwarg: Any) -> ndarray:
    return get_random_state().rand(*size, **kwarg)


def randn(*size: Any, **kwarg: Any) -> ndarray:
    return get_random_state().randn(*size, **kwarg)


def random_sample(size: Any = None, dtype: Any = float) -> ndarray:
    return get_random_state().random_sample(size, dtype)


random = ranf = sample = random_sample


def randint(low: Any, high: Any = None, size: Any = None, dtype: Any = "l") -> ndarray:
    return get_random_state().randint(low, high, size, dtype)


def random_integers(low: Any, high: Any = None, size: Any = None) -> ndarray:
    if high is None:
        low, high = 1, low
    return get_random_state().randint(low, high + 1, size)


def choice(a: Any, size: Any = None, replace: bool = True, p: Any = None) -> ndarray:
    return get_random_state().choice(a, size, replace, p)


def permutation(a: Any) -> ndarray:
    return get_random_state().permutation(a)


def shuffle(a: Any) -> None:
    get_random_state().shuffle(a)


def bytes(length: int) -> bytes:  # noqa: A001  (CuPy's name)
    return get_random_state()._rs.bytes(length)


def _module_function(name: str) -> Any:
    def f(*args: Any, **kwargs: Any) -> ndarray:
        return getattr(get_random_state(), name)(*args, **kwargs)

    f.__name__ = name
    return f


for _name, (_kind, _detail) in _names.CUPY_RANDOM.items():
    if _kind == "function" and _name not in globals() and hasattr(RandomState, _name):
        globals()[_name] = _module_function(_name)


def __getattr__(name: str) -> Any:
    if name in _names.CUPY_RANDOM:
        raise AttributeError(f"cupy.random.{name} exists in CuPy {_names.TAG} but the CuPy stand-in does not "
                             "emulate it")  # fmt: skip
    raise AttributeError(f"module 'cupy.random' has no attribute '{name}'")
