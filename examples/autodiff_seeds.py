"""Worked autodiff on the three computational graphs of the notes, with gradients checked numerically.

    z = x · y            y = σ(xᵀW + b)            H = max{0, XW + b}

Run: python examples/autodiff_seeds.py [--seed N]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg


def show(name: str, t: tg.Tensor) -> None:
    head = f"  {name:<8} shape={t.shape!s:<8} "
    print(head + np.array2string(t.numpy(), precision=4, suppress_small=True, prefix=head))


def main(argv: list | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    tg.manual_seed(args.seed)

    print("1) z = x · y  (dz/dx = y, dz/dy = x)")
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = tg.tensor([4.0, -5.0, 6.0], requires_grad=True)
    z = (x * y).sum()
    z.backward()
    show("z", z), show("dz/dx", x.grad), show("dz/dy", y.grad)

    print("\n2) y = σ(xᵀW + b)  (dy/da = y(1 - y), a = xᵀW + b)")
    x = tg.randn(3, requires_grad=True)
    W = tg.randn(3, 2, requires_grad=True)
    b = tg.zeros(2, requires_grad=True)
    out = (x @ W + b).sigmoid()
    out.sum().backward()
    show("y", out), show("dL/dW", W.grad), show("dL/db", b.grad), show("dL/dx", x.grad)
    s = out.numpy()
    assert np.allclose(b.grad.numpy(), s * (1 - s), atol=1e-6)

    print("\n3) H = max{0, XW + b}  (gradient flows only where XW + b > 0)")
    X = tg.randn(4, 3, requires_grad=True)
    W = tg.randn(3, 2, requires_grad=True)
    b = tg.randn(2, requires_grad=True)
    H = (X @ W + b).relu()
    H.sum().backward()
    show("H", H), show("dL/dW", W.grad), show("dL/db", b.grad)

    print("\n4) float64 central-difference gradcheck of each graph (and its second derivatives)")
    tg.set_default_dtype("float64")
    graphs = {
        "x·y": (lambda x, y: (x * y).sum(), [tg.randn(3, requires_grad=True), tg.randn(3, requires_grad=True)]),
        "σ(xᵀW+b)": (
            lambda x, W, b: (x @ W + b).sigmoid(),
            [tg.randn(3, requires_grad=True), tg.randn(3, 2, requires_grad=True), tg.randn(2, requires_grad=True)],
        ),
        "max{0,XW+b}": (
            lambda X, W, b: (X @ W + b).relu(),
            [tg.randn(4, 3, requires_grad=True), tg.randn(3, 2, requires_grad=True), tg.randn(2, requires_grad=True)],
        ),
    }
    for name, (fn, inputs) in graphs.items():
        ok = tg.gradcheck(fn, inputs) and tg.gradgradcheck(fn, inputs)
        print(f"  {name:<12} gradcheck + gradgradcheck: {'passed' if ok else 'FAILED'}")


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
