"""Elementwise ops. Binary ones broadcast like NumPy and sum their gradients back to each input's shape."""
from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tape import Function
from . import dual
from .dual import unbroadcast, value


class Binary(Function):
    """Broadcasting binary op: each input's gradient is summed back to that input's shape."""
    op: Any  # the backend ufunc, set by each subclass
    def forward(self, a: Any, b: Any) -> Any:
        return self.op(a, b)

    def grads(self, ga: Any, gb: Any, a: Any, b: Any) -> tuple:
        if ga is not None and ga.shape != a.shape:
            ga = unbroadcast(ga, a.shape)
        if gb is not None and gb.shape != b.shape:
            gb = unbroadcast(gb, b.shape)
        return ga, gb


class Add(Binary):
    op = staticmethod(xp.add)
    reads_inputs = False
    def backward(self, g, a, b):
        need_a, need_b = self.needs_input_grad
        return self.grads(g if need_a else None, g if need_b else None, a, b)


class Sub(Binary):
    op = staticmethod(xp.subtract)
    reads_inputs = False
    def backward(self, g, a, b):
        need_a, need_b = self.needs_input_grad
        return self.grads(g if need_a else None, -g if need_b else None, a, b)


class Mul(Binary):
    op = staticmethod(xp.multiply)
    multiplies_inputs = True
    def backward(self, g, a, b):
        if a is b:  # x * x (a squared loss): 2 g x instead of two products and a sum
            if not dual.is_tensor(g) and g.size > 1 and not any(g.strides):
                return a * (2 * g[(0,) * g.ndim]), None  # g is one number spread (mean's backward): one pass
            return g * (a + a), None
        need_a, need_b = self.needs_input_grad
        ga, gb = g * b if need_a else None, g * a if need_b else None
        if a.shape == b.shape == g.shape:  # no broadcasting: nothing to sum back (the common case)
            return ga, gb
        return self.grads(ga, gb, a, b)


class Div(Binary):
    op = staticmethod(xp.true_divide)
    multiplies_inputs = True
    def backward(self, g, a, b):
        ga = g / b
        return self.grads(ga if self.needs_input_grad[0] else None,
                          -ga * a / b if self.needs_input_grad[1] else None, a, b)


class Pow(Binary):
    """a ** b for two tensors: d/da = b a^(b-1), d/db = a^b log a."""
    op = staticmethod(xp.power)
    needs_output, multiplies_inputs = True, True
    def backward(self, g, a, b, out):
        ga = g * b * a ** (b - 1) if self.needs_input_grad[0] else None
        # log a is -inf at a = 0, where a^b log a -> 0 (b > 0): use log 1 there instead of 0 * -inf
        gb = g * out * dual.log(a + (value(a) == 0)) if self.needs_input_grad[1] else None
        return self.grads(ga, gb, a, b)


class PowScalar(Function):
    """x ** p for a Python number p: d/dx = p x^(p-1)."""
    def forward(self, x, p): self.p = p; return xp.power(x, p)
    def backward(self, g, x):
        if self.p == 0:  # d/dx x**0 = 0 everywhere; x**-1 would make it 0 * inf = NaN at x = 0
            return g * 0
        return g * self.p * x ** (self.p - 1)


class Maximum(Binary):
    """Ties send half the gradient to each side (the mean of the two one-sided derivatives)."""
    op = staticmethod(xp.maximum)
    def backward(self, g, a, b):
        va, vb = value(a), value(b)
        wa = xp.where(va > vb, 1, xp.where(va == vb, 0.5, 0)).astype(va.dtype)
        return self.grads(g * wa, g * (1 - wa), a, b)


class Minimum(Binary):
    op = staticmethod(xp.minimum)
    def backward(self, g, a, b):
        va, vb = value(a), value(b)
        wa = xp.where(va < vb, 1, xp.where(va == vb, 0.5, 0)).astype(va.dtype)
        return self.grads(g * wa, g * (1 - wa), a, b)


class Neg(Function):
    reads_inputs = False
    def forward(self, x): return -x
    def backward(self, g, x): return -g


class Abs(Function):
    def forward(self, x): return xp.abs(x)
    def backward(self, g, x): return g * xp.sign(value(x))


class Exp(Function):
    needs_output = True
    def forward(self, x): return xp.exp(x)
    def backward(self, g, x, out): return g * out


class Log(Function):
    def forward(self, x): return xp.log(x)
    def backward(self, g, x): return g / x


class Sin(Function):
    def forward(self, x): return xp.sin(x)
    def backward(self, g, x): return g * dual.cos(x)


class Cos(Function):
    def forward(self, x): return xp.cos(x)
    def backward(self, g, x): return -g * dual.sin(x)


class Log1p(Function):  # log(1 + x), exact where 1 + x would round (tiny x)
    def forward(self, x): return xp.log1p(x)
    def backward(self, g, x): return g / (1 + x)


class Sqrt(Function):
    needs_output = True
    def forward(self, x): return xp.sqrt(x)
    def backward(self, g, x, out): return g / (2 * out)


class Tanh(Function):
    needs_output = True
    def forward(self, x): return xp.tanh(x)
    def backward(self, g, x, out): return g * (1 - out * out)


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e^-x), evaluated through e^-|x| so that no exponent overflows."""
    needs_output = True
    def forward(self, x):
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
    def backward(self, g, x, out): return g * out * (1 - out)


class Relu(Function):
    def forward(self, x): return xp.maximum(x, 0)
    def backward(self, g, x): return dual.mask(g, value(x) > 0)


class Clip(Function):
    """Gradient passes where lo <= x <= hi (bounds included, as in PyTorch's clamp)."""
    def forward(self, x, lo, hi):
        self.lo, self.hi = lo, hi
        return xp.clip(x, lo, hi)
    def backward(self, g, x):
        v = value(x)
        keep = xp.ones(v.shape, dtype=bool)
        if self.lo is not None:
            keep &= v >= self.lo
        if self.hi is not None:
            keep &= v <= self.hi
        return dual.mask(g, keep)


class Cast(Function):
    reads_inputs = False
    param_suffix = ".astype({dtype})"
    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)
    def backward(self, g, x): return g.astype(self.in_dtype)
