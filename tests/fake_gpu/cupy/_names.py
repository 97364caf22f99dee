"""The allowlists, as data: which names exist, and the per-function facts the wrappers need.

Generated part (``_names_generated.py``, by ``_generate_names.py`` from CuPy v13.6.0, commit
25e552d5d679dcdc6f7cc3d81310a9b265463137):

- ``CUPY``, ``CUPY_RANDOM``, ``CUPY_LINALG``, ``CUPY_FFT``, ``CUPY_CUDA``, ``CUPYX``: every public
  name of cupy/__init__.py, cupy/random/__init__.py, cupy/linalg/__init__.py, cupy/fft/__init__.py,
  cupy/cuda/__init__.py and cupyx/__init__.py, with the parameters of each function;
- ``NDARRAY``: the members of ``_ndarray_base``/``ndarray`` in cupy/_core/core.pyx (+ core.pxd);
- ``UFUNC``: the methods of ``ufunc`` in cupy/_core/_kernel.pyx;
- ``GENERATOR``/``RANDOMSTATE``: cupy/random/_generator_api.pyx ``Generator`` and
  cupy/random/_generator.py ``RandomState``;
- ``HOST_OK``: functions that pass a parameter to cupy.asarray/array (so accept host arrays there).

Hand-written part (below), each with the file it was read from (same tag).
"""

from __future__ import annotations

from ._names_generated import (  # noqa: F401  (re-exported)
    COMMIT,
    CUPY,
    CUPY_CUDA,
    CUPY_FFT,
    CUPY_LINALG,
    CUPY_RANDOM,
    CUPYX,
    GENERATOR,
    HOST_OK,
    NDARRAY,
    RANDOMSTATE,
    TAG,
    UFUNC,
)

# cupy/_logic/comparison.py: allclose returns isclose(a, b, ...).all(), and isclose converts both
HOST_OK = {**HOST_OK, "allclose": ["a", "b"]}

# Parameter names that CuPy's functions use for array operands. A host numpy.ndarray passed there
# is refused (TypeError) unless HOST_OK lists the parameter: most CuPy functions hand their operands
# to kernels or typed Cython code (``_ndarray_base a``), which reject host arrays. This is a
# heuristic over the parameter names of the generated signatures, not a per-function reading.
ARRAY_PARAMS = frozenset(
    "a b x y v m A B X a1 a2 x1 x2 ar ar1 ar2 arr arr1 arr2 ary array arrays tup condition values indices "
    "choices weights fweights aweights prototype element test_elements xp fp keys condlist choicelist mask "
    "sample vals ind filt prepend append to_end to_begin a_min a_max dst src where f".split()
)

# Functions whose output shape depends on data, so CuPy reads a count back from the device
# (``int(...)``, ``.item()``, ``bool(...)``): one synchronisation per call. Source: the "This function
# may synchronize the device" warnings and `# synchronize` comments in cupy/_sorting/search.py
# (nonzero, flatnonzero, argwhere, where with one argument), cupy/_indexing/indexing.py (compress,
# extract), cupy/_indexing/insert.py (place), cupy/_manipulation/add_remove.py (unique, delete with a
# mask, trim_zeros), cupy/_logic/truth.py (set operations via unique/flatnonzero),
# cupy/_statistics/order.py (nanmin, nanmax, percentile, quantile), histogram.py (histogram*,
# bincount), meanvar.py (average with weights), cupy/_math/sumprod.py (gradient with coordinates),
# cupy/_math/misc.py (real_if_close), cupy/_manipulation/kind.py (asarray_chkfinite),
# cupy/_indexing/generate.py (ix_ with a mask, ravel_multi_index mode='raise', unravel_index,
# mask_indices), cupy/_logic/comparison.py (array_equal with equal_nan=True: a mask).
SYNCING = {
    "nonzero": "nonzero", "flatnonzero": "flatnonzero", "argwhere": "argwhere", "extract": "extract",
    "compress": "compress", "place": "place", "unique": "unique", "trim_zeros": "trim_zeros",
    "intersect1d": "unique", "setdiff1d": "unique", "setxor1d": "unique", "union1d": "unique",
    "nanmin": "nanmin all-NaN check", "nanmax": "nanmax all-NaN check", "percentile": "q range check",
    "quantile": "q range check", "histogram": "histogram bin range", "histogram2d": "histogram bin range",
    "histogramdd": "histogram bin range", "bincount": "bincount size", "real_if_close": "real_if_close",
    "asarray_chkfinite": "asarray_chkfinite", "unravel_index": "unravel_index range check",
    "mask_indices": "mask_indices",
}  # fmt: skip
# ... and those that synchronise only for some arguments (name -> (kind, predicate(args, kwargs)))
CONDITIONAL_SYNCS = {
    "where": ("where(condition) -> nonzero", lambda a, k: len(a) + len(k) == 1),
    "average": ("average weights check", lambda a, k: len(a) > 2 or k.get("weights") is not None),
    "delete": ("delete with a mask", lambda a, k: _is_bool_array(a[1] if len(a) > 1 else k.get("indices"))),
    "ix_": ("ix_ with a mask", lambda a, k: any(_is_bool_array(x) for x in a)),
    "ravel_multi_index": ("ravel_multi_index range check",
                          lambda a, k: (a[2] if len(a) > 2 else k.get("mode", "raise")) == "raise"),
    "gradient": ("gradient coordinate check", lambda a, k: any(getattr(x, "ndim", 0) >= 1 for x in a[1:])),
    "array_equal": ("array_equal equal_nan mask", lambda a, k: bool(a[2] if len(a) > 2 else k.get("equal_nan"))),
}  # fmt: skip


def _is_bool_array(x: object) -> bool:
    return getattr(getattr(x, "dtype", None), "kind", "") == "b"


# Functions that return a 0-d device array in CuPy where NumPy returns a Python scalar:
# cupy/_logic/comparison.py (array_equal, array_equiv, allclose: ``(...).all()``),
# cupy/_sorting/count.py (count_nonzero: a reduction kernel).
DEVICE_RESULT = frozenset({"array_equal", "array_equiv", "allclose", "count_nonzero"})

# Names CuPy 13 still has but NumPy 2 removed: the NumPy function each one maps to.
NUMPY_RENAMED = {
    "in1d": "isin", "trapz": "trapezoid", "product": "prod", "cumproduct": "cumprod", "alltrue": "all",
    "sometrue": "any", "round_": "round", "row_stack": "vstack", "asfarray": None, "msort": None,
    "byte_bounds": None,
}  # fmt: skip

# Names of the CuPy namespace that the stand-in does not provide: accessing one is an AttributeError
# that says so (rather than "no attribute", which is reserved for names CuPy lacks).
NOT_EMULATED = frozenset(
    "sparse testing polynomial poly1d vectorize piecewise flatiter broadcast c_ r_ mgrid ogrid fromDlpack "
    "from_dlpack RawModule DataSource show_config who memoize clear_memo genfromtxt loadtxt fromfile "
    "apply_along_axis".split()
)
