"""Tree-structured recursive networks (Socher-style), evaluated without Python recursion.

A :class:`Tree` is either a *leaf* holding a token id, or an *internal node* with ``arity`` children.
:class:`RecursiveNet` maps every node to a state vector of size ``dim``::

    h(leaf)  = E[token]                                         E: (vocab, dim) embedding
    h(node)  = tanh(W [h(c_1); h(c_2); ...; h(c_arity)] + b)    W: (dim, arity·dim), b: (dim,)
    y        = W_o h(root) + b_o                                a Linear head on the root

The same ``W, b`` are shared by every internal node (weight tying across the tree, as an RNN ties them
across time). A chain-shaped tree is an RNN unrolled along the chain; a balanced tree of n leaves has
depth O(log n), so gradients cross O(log n) tanh layers instead of O(n).

Evaluation is iterative: an explicit post-order stack computes each node's *height* (leaves 0,
a node 1 + the max of its children's), then all nodes of one height — across every tree in the batch —
are evaluated in one matrix product. The number of matmuls is the maximum height, and nothing recurses,
so a chain of depth 10 000 needs no ``sys.setrecursionlimit`` (the tape's backward is iterative too).

============================ ==========================================
``trees``                    a Tree, nested tuples, or a list of either (B trees)
``leaf_vectors`` (optional)  ``(L, dim)`` replaces E[token] for the L leaves, in post-order over the batch
output of ``encode``         ``(B, dim)``: h(root) of each tree
output of ``forward``        ``(B, out_features)``
============================ ==========================================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import op_functions as Fn
from ..nn.layers import Embedding, Linear
from ..nn.module import Module
from ..tensor import Tensor


class Tree:
    """An immutable tree node: ``Tree.leaf(token)`` or ``Tree.node(child, child, ...)``.

    Build from nested tuples with :meth:`from_nested`: an ``int`` is a leaf, a tuple/list is an internal
    node of its elements, e.g. ``(3, PLUS, (4, TIMES, 5))``. Nested containers are *values*: the same
    tuple object appearing twice is copied into two nodes, but a list that contains itself is a cycle and
    is rejected. :meth:`validate` rejects Tree objects shared between two parents (a DAG, not a tree) and
    cycles, which ordinary construction cannot create but attribute hacking could.
    """

    __slots__ = ("children", "token")
    token: int | None
    children: tuple

    def __init__(self, token: int | None = None, children: Sequence[Tree] = ()) -> None:
        children = tuple(children)
        if (token is None) == (not children):
            raise ValueError(
                "Tree: a node is either a leaf with a token id or an internal node with "
                f"children, got token={token!r} and {len(children)} children"
            )
        if token is not None:
            # bool is an int subclass; True as a token id is almost certainly a mistake
            if isinstance(token, bool) or not isinstance(token, (int, np.integer)):
                raise TypeError(f"Tree: a leaf token must be an int id, got {type(token).__name__} {token!r}")
            if token < 0:
                raise ValueError(f"Tree: a leaf token must be a non-negative id, got {token}")
            token = int(token)
        for c in children:
            if not isinstance(c, Tree):
                raise TypeError(
                    f"Tree: children must be Tree nodes, got {type(c).__name__}; use Tree.from_nested for nested tuples"
                )
        object.__setattr__(self, "token", token)
        object.__setattr__(self, "children", children)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Tree nodes are immutable; build a new tree instead")

    @classmethod
    def leaf(cls, token: int) -> Tree:
        return cls(token=token)

    @classmethod
    def node(cls, *children: Tree) -> Tree:
        return cls(children=children)

    @property
    def is_leaf(self) -> bool:
        return self.token is not None

    @classmethod
    def from_nested(cls, obj: Any) -> Tree:
        """Nested tuples/lists of ints -> Tree, iteratively (deep nesting needs no recursion)."""
        if isinstance(obj, Tree):
            return obj.validate()
        # post-order build: ("enter", obj, path-ids) pushes children; ("exit", obj) pops their Trees
        built: list = []
        stack: list = [(False, obj)]
        on_path: set = set()  # ids of containers between the root and the current one
        while stack:
            done, o = stack.pop()
            if done:
                on_path.discard(id(o))
                kids = built[len(built) - len(o) :]
                del built[len(built) - len(o) :]
                built.append(cls(children=kids))
            elif isinstance(o, Tree):
                built.append(o.validate())
            elif isinstance(o, (tuple, list)):
                if id(o) in on_path:
                    raise ValueError(
                        "Tree.from_nested: the nested input contains a cycle (a list that contains itself)"
                    )
                if not o:
                    raise ValueError("Tree.from_nested: an empty tuple/list is neither a leaf nor a node")
                on_path.add(id(o))
                stack.append((True, o))
                stack.extend((False, c) for c in reversed(o))
            else:
                built.append(cls(token=o))  # raises for str/float/bool/negative ids
        # Tree objects embedded in the nested input could be shared between two parents: check the whole
        return built[0].validate()

    def validate(self) -> Tree:
        """Check this is a tree: every node reached once, no cycles. Returns self; raises ValueError."""
        seen: set = set()
        stack: list = [(self, False)]
        on_path: set = set()
        while stack:
            n, done = stack.pop()
            if done:
                on_path.discard(id(n))
                continue
            if id(n) in on_path:
                raise ValueError("Tree.validate: cycle detected (a node is its own descendant)")
            if id(n) in seen:
                raise ValueError(
                    "Tree.validate: a node is shared by two parents (the structure is a DAG, "
                    "not a tree); copy the subtree instead"
                )
            if not isinstance(n, Tree):
                raise TypeError(f"Tree.validate: found a {type(n).__name__} where a Tree node belongs")
            seen.add(id(n))
            on_path.add(id(n))
            stack.append((n, True))
            stack.extend((c, False) for c in reversed(n.children))
        return self

    def postorder(self) -> Iterator[Tree]:
        """Nodes children-first, left to right, with an explicit stack."""
        stack: list = [(self, False)]
        while stack:
            n, done = stack.pop()
            if done or n.is_leaf:
                yield n
            else:
                stack.append((n, True))
                stack.extend((c, False) for c in reversed(n.children))

    def depth(self) -> int:
        """Edges on the longest root-to-leaf path (a single leaf has depth 0)."""
        h: dict = {}
        for n in self.postorder():
            h[id(n)] = 0 if n.is_leaf else 1 + max(h[id(c)] for c in n.children)
        return h[id(self)]

    def leaves(self) -> list:
        return [n.token for n in self.postorder() if n.is_leaf]

    def __repr__(self) -> str:
        if self.is_leaf:
            return f"Tree.leaf({self.token})"
        return f"Tree(<{len(self.children)} children, depth {self.depth()}>)"


def _as_trees(trees: Any) -> list:
    if isinstance(trees, Tree):
        return [trees.validate()]
    if isinstance(trees, (list, tuple)) and trees and all(isinstance(t, Tree) for t in trees):
        return [t.validate() for t in trees]
    if isinstance(trees, list) and trees and all(isinstance(t, (tuple, list, int, np.integer)) for t in trees):
        return [Tree.from_nested(t) for t in trees]  # a list of nested expressions
    return [Tree.from_nested(trees)]  # a tuple is one nested tree


class RecursiveNet(Module):
    """h(leaf) = E[token]; h(node) = tanh(W [h_1; ...; h_arity] + b); y = head(h(root)). See module doc."""

    def __init__(self, vocab: int, dim: int, arity: int = 2, out_features: int = 1) -> None:
        super().__init__()
        if vocab < 1 or dim < 1 or arity < 1 or out_features < 1:
            raise ValueError(
                f"RecursiveNet: vocab, dim, arity and out_features must be positive, got "
                f"{vocab}, {dim}, {arity}, {out_features}"
            )
        self.vocab, self.dim, self.arity = vocab, dim, arity
        self.embed = Embedding(vocab, dim)
        self.compose = Linear(arity * dim, dim)  # W, b shared by all internal nodes
        self.head = Linear(dim, out_features)

    def encode(self, trees: Any, leaf_vectors: Tensor | None = None) -> Tensor:
        """Root states ``(B, dim)``, evaluating all nodes of one height (over the batch) at once."""
        roots = _as_trees(trees)
        # one post-order pass over the batch: node ids, heights and child ids (no recursion)
        order: list = []
        index: dict = {}
        for r in roots:
            for n in r.postorder():
                if id(n) in index:  # a subtree shared *between* batch items is evaluated once
                    continue
                index[id(n)] = len(order)
                order.append(n)
        height = np.zeros(len(order), np.int64)
        leaf_ids = [i for i, n in enumerate(order) if n.is_leaf]
        for i, n in enumerate(order):
            if not n.is_leaf:
                if len(n.children) != self.arity:
                    raise ValueError(
                        f"RecursiveNet: every internal node needs exactly arity={self.arity} "
                        f"children, found one with {len(n.children)}"
                    )
                height[i] = 1 + max(height[index[id(c)]] for c in n.children)
        tokens = np.array([order[i].token for i in leaf_ids], np.int64)
        if leaf_vectors is None:
            if tokens.max() >= self.vocab:
                raise IndexError(f"RecursiveNet: leaf token {int(tokens.max())} out of range for vocab {self.vocab}")
            leaf_h = self.embed(tokens)
        else:
            if leaf_vectors.shape != (len(leaf_ids), self.dim):
                raise ValueError(
                    f"RecursiveNet: leaf_vectors must have shape ({len(leaf_ids)}, {self.dim}) "
                    f"(one row per leaf, post-order), got {leaf_vectors.shape}"
                )
            leaf_h = leaf_vectors
        # states[i] is node i's row; unbind is one tape node whose backward is O(rows)
        states: list = [None] * len(order)
        for i, row in zip(leaf_ids, Fn.unbind(leaf_h, 0)):
            states[i] = row
        for lvl in range(1, int(height.max()) + 1):
            nodes = np.flatnonzero(height == lvl)
            kids = [states[index[id(c)]] for i in nodes for c in order[i].children]
            x = Fn.stack(kids, 0).reshape(len(nodes), self.arity * self.dim)  # [h_1; ...; h_arity] per row
            h = self.compose(x).tanh()
            for i, row in zip(nodes, Fn.unbind(h, 0)):  # type: ignore[assignment]  # i: NumPy ints here
                states[i] = row
        return Fn.stack([states[index[id(r)]] for r in roots], 0)

    def forward(self, trees: Any, leaf_vectors: Tensor | None = None) -> Tensor:
        return self.head(self.encode(trees, leaf_vectors))

    def extra_repr(self) -> str:
        return f"vocab={self.vocab}, dim={self.dim}, arity={self.arity}"
