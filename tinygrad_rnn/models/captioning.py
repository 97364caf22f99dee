r"""Image captioning: an MLP image encoder conditions an LSTM decoder that writes a caption token by token.

Encoder (``x`` the image ``(C, H, W)``)::

    encoder="mlp":      f = tanh(W_2 tanh(W_1 vec(x) + b_1) + b_2)                  one vector (N, F)
    region features:    f_r = tanh(W_2 tanh(W_1 [vec(x_r); onehot(r)] + b_1) + b_2)  one per region r
                        (x_r the r-th block of a gh × gw grid, the MLP shared across regions)

Decoder step t (``e(·)`` token embedding, ``y_{t-1}`` the previous token, ``<bos>`` first)::

    c_t, α_t  = attend(h_{t-1}, {f_r})      (additive attention, ``attention=True``)
              or c_t = f  /  mean_r f_r     (a fixed image vector otherwise)
    h_t, m_t  = LSTMCell([e(y_{t-1}); c_t], (h_{t-1}, m_{t-1}))
    logits_t  = W_o [h_t; c_t] + b_o
    h_0 = tanh(W_h f̄ + b_h),  m_0 = W_m f̄ + b_m   (f̄ = f or mean_r f_r)

Training uses teacher forcing and a token cross-entropy that ignores ``pad``. :meth:`ImageCaptioner.greedy_decode`
and :meth:`ImageCaptioner.beam_search` write captions ending with ``eos``. The module also holds a synthetic
scene generator (:func:`make_scenes`: one or two coloured shapes, captions such as
``"a small red square left of a big blue circle"``) and the metrics :func:`exact_match` and
:func:`token_overlap_f1` (clipped unigram overlap, BLEU-1-like precision and recall combined into F1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..backend import xp
from ..nn.cells import LSTMCell
from ..nn.layers import Embedding, Linear
from ..nn.losses import cross_entropy
from ..nn.module import Module
from ..op_functions import concat
from ..tensor import Tensor
from .attention import AdditiveAttention, Memory
from .decoding import StepDecoder, check_decode_args
from .language import EOS, PAD, UNK, Vocab
from .seq2seq import teacher_forcing_batch

__all__ = [
    "BOS",
    "ImageCaptioner",
    "caption_vocab",
    "encode_captions",
    "exact_match",
    "make_scenes",
    "token_overlap_f1",
]

BOS = "<bos>"

# ---- synthetic scenes ----------------------------------------------------------------------------------
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
}
SHAPES = ("square", "circle")
SIZES = {"small": 3, "big": 5}
WORDS = ("a", "small", "big", *COLOURS, *SHAPES, "on", "the", "left", "right", "of")


def _pattern(shape: str, s: int) -> np.ndarray:
    """``s × s`` 0/1 mask: a filled square, or a circle (a ring when small, a disc without corners when big)."""
    m = np.ones((s, s))
    if shape == "circle":
        if s <= 3:
            m[s // 2, s // 2] = 0.0  # a ring: distinguishable from the filled small square
        else:
            for i, j in ((0, 0), (0, s - 1), (s - 1, 0), (s - 1, s - 1)):
                m[i, j] = 0.0
    return m


def caption_vocab() -> Vocab:
    """The scene vocabulary: ``<pad> <unk> <eos> <bos>`` (ids 0–3) then the words of :func:`make_scenes`."""
    return Vocab([PAD, UNK, EOS, BOS, *WORDS])


def make_scenes(
    n: int,
    seed: int = 0,
    image_shape: tuple[int, int, int] = (3, 12, 12),
    max_objects: int = 2,
    colours: Sequence[str] | None = None,
    shapes: Sequence[str] = SHAPES,
    sizes: Sequence[str] = tuple(SIZES),
    noise: float = 0.0,
) -> tuple[np.ndarray, list[list[str]]]:
    """``n`` images ``(n, C, H, W)`` float32 and their captions (token lists), deterministic in ``seed``.

    Each image holds 1..``max_objects`` (1 or 2) shapes; a shape sits at a random offset inside the left
    or the right half. One object: ``"a big green circle on the right"``; two (one per half):
    ``"a small red square left of a big blue circle"``, the left object named first. Colours use the first
    three channels (extra channels stay 0); ``noise`` adds N(0, noise²) pixel noise.
    """
    C, H, W = image_shape
    if C < 3 or H < 5 or W < 10:
        raise ValueError(f"make_scenes: image_shape must be (C >= 3, H >= 5, W >= 10), got {image_shape}")
    if max_objects not in (1, 2):
        raise ValueError(f"make_scenes: max_objects must be 1 or 2, got {max_objects!r}")
    colours = list(COLOURS) if colours is None else list(colours)
    for what, got, known in (("colours", colours, COLOURS), ("shapes", shapes, SHAPES), ("sizes", sizes, SIZES)):
        bad = [g for g in got if g not in known]
        if bad or not got:
            raise ValueError(f"make_scenes: {what} must be a non-empty subset of {list(known)}, got {list(got)}")
    rng = np.random.default_rng(seed)
    images = np.zeros((n, C, H, W), dtype=np.float32)
    captions: list[list[str]] = []
    half = W // 2
    for k in range(n):
        k_obj = 1 if max_objects == 1 else int(rng.integers(1, 3))
        sides = ["left", "right"] if k_obj == 2 else [str(rng.choice(["left", "right"]))]
        words: list[list[str]] = []
        for side in sides:
            size = str(rng.choice(list(sizes)))
            colour = str(rng.choice(colours))
            shape = str(rng.choice(list(shapes)))
            s = SIZES[size]
            r0 = int(rng.integers(0, H - s + 1))
            c0 = (0 if side == "left" else half) + int(rng.integers(0, half - s + 1))
            m = _pattern(shape, s)
            for ch, v in enumerate(COLOURS[colour]):
                images[k, ch, r0 : r0 + s, c0 : c0 + s] = np.maximum(images[k, ch, r0 : r0 + s, c0 : c0 + s], v * m)
            words.append(["a", size, colour, shape])
        if k_obj == 2:
            captions.append([*words[0], "left", "of", *words[1]])
        else:
            captions.append([*words[0], "on", "the", sides[0]])
    if noise:
        images += rng.normal(0.0, noise, images.shape).astype(np.float32)
    return images, captions


def encode_captions(vocab: Vocab, captions: Sequence[Sequence[str]]) -> list[list[int]]:
    """Token ids of each caption; an unknown token raises ``ValueError`` naming it and its caption."""
    out = []
    for i, cap in enumerate(captions):
        if isinstance(cap, str):
            raise TypeError(f"encode_captions: caption {i} is a str; pass a token list such as caption.split()")
        unknown = [t for t in cap if t not in vocab]
        if unknown:
            raise ValueError(
                f"encode_captions: unknown token {unknown[0]!r} in caption {i} ({' '.join(cap)!r}); "
                f"the vocabulary has {len(vocab)} tokens"
            )
        out.append(vocab.encode(cap, strict=True))
    return out


# ---- metrics ---------------------------------------------------------------------------------------------
def _strip(tokens: Sequence[Any], eos: Any) -> list:
    toks = list(tokens)
    return toks[: toks.index(eos)] if eos is not None and eos in toks else toks


def exact_match(preds: Sequence[Sequence[Any]], refs: Sequence[Sequence[Any]], eos: Any = None) -> float:
    """Fraction of predictions equal to their reference (both cut at the first ``eos`` when given)."""
    if len(preds) != len(refs) or not refs:
        raise ValueError(
            f"exact_match: need equally many (>0) predictions and references, got {len(preds)}, {len(refs)}"
        )
    return float(np.mean([_strip(p, eos) == _strip(r, eos) for p, r in zip(preds, refs)]))


def token_overlap_f1(preds: Sequence[Sequence[Any]], refs: Sequence[Sequence[Any]], eos: Any = None) -> float:
    """Mean per-caption unigram F1: overlap = Σ_w min(count_pred(w), count_ref(w)) (BLEU-1's clipping),
    precision = overlap / len(pred), recall = overlap / len(ref); 0 when the overlap is 0."""
    if len(preds) != len(refs) or not refs:
        raise ValueError(
            f"token_overlap_f1: need equally many (>0) predictions and references, got {len(preds)}, {len(refs)}"
        )
    scores = []
    for p, r in zip(preds, refs):
        p, r = _strip(p, eos), _strip(r, eos)
        overlap = sum((Counter(p) & Counter(r)).values())
        if overlap == 0:
            scores.append(0.0)
            continue
        prec, rec = overlap / len(p), overlap / len(r)
        scores.append(2 * prec * rec / (prec + rec))
    return float(np.mean(scores))


# ---- the model -------------------------------------------------------------------------------------------
def _positive_int(name: str, v: Any) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"ImageCaptioner: {name} must be a positive int, got {v!r}")


class ImageCaptioner(Module):
    """MLP image encoder + LSTM caption decoder, optionally with additive attention over image regions.

    ``image_shape`` is ``(C, H, W)``; images come in batches ``(N, C, H, W)``. ``encoder="mlp"`` encodes
    the whole image into one vector; ``encoder="regions"`` encodes each block of a ``regions = (gh, gw)``
    grid with one shared MLP (its input also holds the region's one-hot position). ``attention=True``
    needs region features and switches to them (the same MLP, per region): the decoder then attends over
    the ``gh·gw`` regions at every step. Token ids: ``pad``, ``bos``, ``eos`` (defaults match
    :func:`caption_vocab`). :meth:`forward` returns logits ``(T, N, V)`` (and attention ``(T, N, R)``).
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        vocab_size: int,
        emb: int = 16,
        hidden: int = 64,
        encoder: str = "mlp",
        attention: bool = False,
        feat: int | None = None,
        regions: tuple[int, int] = (2, 2),
        pad: int = 0,
        eos: int = 2,
        bos: int = 3,
    ) -> None:
        super().__init__()
        if len(tuple(image_shape)) != 3:
            raise ValueError(f"ImageCaptioner: image_shape must be (C, H, W), got {image_shape!r}")
        for name, v in zip("CHW", image_shape):
            _positive_int(f"image_shape {name}", v)
        for name, v in (("vocab_size", vocab_size), ("emb", emb), ("hidden", hidden)):
            _positive_int(name, v)
        if encoder not in ("mlp", "regions"):
            raise ValueError(f"ImageCaptioner: encoder must be 'mlp' or 'regions', got {encoder!r}")
        specials = {"pad": pad, "eos": eos, "bos": bos}
        for name, i in specials.items():
            if not isinstance(i, int) or not 0 <= i < vocab_size:
                raise ValueError(f"ImageCaptioner: {name}={i!r} is not a token id in [0, vocab_size={vocab_size})")
        if len(set(specials.values())) != 3:
            raise ValueError(f"ImageCaptioner: pad, eos and bos must be distinct ids, got {specials}")
        self.image_shape = tuple(int(v) for v in image_shape)
        self.vocab_size, self.hidden = vocab_size, hidden
        self.pad, self.eos, self.bos = pad, eos, bos
        self.use_regions = encoder == "regions" or attention
        self.encoder_kind = "regions" if self.use_regions else "mlp"
        feat = feat or hidden
        _positive_int("feat", feat)
        self.feat = feat
        C, H, W = self.image_shape
        if self.use_regions:
            gh, gw = regions
            _positive_int("regions[0]", gh)
            _positive_int("regions[1]", gw)
            if H % gh or W % gw:
                raise ValueError(f"ImageCaptioner: a {gh}x{gw} region grid must divide the image {H}x{W}")
            self.regions = (gh, gw)
            in_size = C * (H // gh) * (W // gw) + gh * gw
        else:
            self.regions = (1, 1)
            in_size = C * H * W
        self.enc1 = Linear(in_size, hidden)
        self.enc2 = Linear(hidden, feat)
        self.init_h = Linear(feat, hidden)
        self.init_c = Linear(feat, hidden)
        self.attention: AdditiveAttention | None = AdditiveAttention(hidden, feat) if attention else None
        self.embed = Embedding(vocab_size, emb, padding_idx=pad)
        self.cell = LSTMCell(emb + feat, hidden)
        self.out = Linear(hidden + feat, vocab_size)

    # ---- input checks ----------------------------------------------------------------------------------
    def _check_images(self, images: Any) -> np.ndarray:
        a = backend.to_numpy(images.array if isinstance(images, Tensor) else np.asarray(images))
        if a.ndim != 4 or tuple(a.shape[1:]) != self.image_shape:
            raise ValueError(
                f"ImageCaptioner: images must be (N, {', '.join(map(str, self.image_shape))}), got shape "
                f"{tuple(a.shape)}"
            )
        if a.shape[0] == 0:
            raise ValueError("ImageCaptioner: empty image batch (N = 0)")
        if a.dtype.kind not in "fiub":
            raise TypeError(f"ImageCaptioner: images must be numeric, got dtype {a.dtype}")
        return a

    def _check_tokens(self, tokens: Any, N: int, what: str) -> np.ndarray:
        t = backend.to_numpy(tokens.array if isinstance(tokens, Tensor) else np.asarray(tokens))
        if t.size and t.dtype.kind not in "iu":
            raise TypeError(f"ImageCaptioner: {what} must hold integer token ids, got dtype {t.dtype}")
        if t.ndim != 2 or t.shape[1] != N or t.shape[0] == 0:
            raise ValueError(f"ImageCaptioner: {what} must be (T >= 1, N={N}) token ids, got shape {t.shape}")
        if t.min() < 0 or t.max() >= self.vocab_size:
            raise ValueError(
                f"ImageCaptioner: {what} ids must lie in [0, vocab_size={self.vocab_size}), got range "
                f"[{int(t.min())}, {int(t.max())}]"
            )
        return t.astype(np.int64)

    # ---- encoder ---------------------------------------------------------------------------------------
    def _region_inputs(self, a: np.ndarray) -> np.ndarray:
        N, C, H, W = a.shape
        gh, gw = self.regions
        blocks = a.reshape(N, C, gh, H // gh, gw, W // gw).transpose(0, 2, 4, 1, 3, 5)
        blocks = blocks.reshape(N, gh * gw, -1)
        onehot = np.broadcast_to(np.eye(gh * gw), (N, gh * gw, gh * gw))
        return np.concatenate([blocks, onehot], axis=-1)

    def encode(self, images: Any) -> tuple[Memory, tuple[Tensor, Tensor]]:
        """Image features as a :class:`Memory` (keys ``(N, R, F)``, R = 1 without regions) and ``(h_0, m_0)``."""
        a = self._check_images(images)
        dtype = self.enc1.weight.array.dtype
        N = a.shape[0]
        x = self._region_inputs(a) if self.use_regions else a.reshape(N, 1, -1)
        feats = self.enc2(self.enc1(Tensor(xp.asarray(x, dtype=dtype))).tanh()).tanh()  # (N, R, F)
        R = feats.shape[1]
        pooled = feats.mean(axis=1) if R > 1 else feats.reshape(N, self.feat)
        mask = xp.ones((N, R), dtype=bool)
        projected = None if self.attention is None else self.attention.precompute(feats)
        h0, c0 = self.init_h(pooled).tanh(), self.init_c(pooled)
        return Memory(feats, mask, projected, pooled), (h0, c0)

    def step(self, prev: Any, state: Tensor, memory: Memory) -> tuple[Tensor, Tensor, Tensor | None]:
        """One decoder step. ``state`` is ``[h; m]`` joined ``(N, 2H)`` so that beams can index it as one."""
        h, m = state[:, : self.hidden], state[:, self.hidden :]
        if self.attention is None:
            c, w = memory.context, None
        else:
            c, w = self.attention(h, memory.keys, memory.mask, memory.projected)
        h, m = self.cell(concat([self.embed(prev), c], axis=-1), (h, m))
        return self.out(concat([h, c], axis=-1)), concat([h, m], axis=-1), w

    # ---- teacher forcing -------------------------------------------------------------------------------
    def forward(
        self, images: Any, tgt_in: Any, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor | None]:
        memory, (h, m) = self.encode(images)
        tgt = backend.to_backend(self._check_tokens(tgt_in, memory.keys.shape[0], "tgt_in"))
        out, weights = self._decoder().teacher_forced(concat([h, m], axis=-1), memory, tgt)
        return (out, weights) if return_attention else out

    def loss(self, images: Any, tgt_in: Any, tgt_out: Any) -> Tensor:
        """Mean token cross-entropy of ``tgt_out (T, N)``, ``pad`` positions ignored."""
        logits: Any = self.forward(images, tgt_in)
        T, N, V = logits.shape
        target = self._check_tokens(tgt_out, N, "tgt_out")
        if target.shape[0] != T:
            raise ValueError(f"ImageCaptioner: tgt_out has {target.shape[0]} steps but tgt_in has {T}")
        return cross_entropy(logits.reshape(T * N, V), target.reshape(-1), ignore_index=self.pad)

    def batch(self, images: Any, captions: Sequence[Sequence[int]]) -> tuple[Any, np.ndarray, np.ndarray]:
        """``(images, tgt_in, tgt_out)`` for :meth:`loss` from token-id captions (teacher forcing)."""
        tin, tout = teacher_forcing_batch(captions, self.bos, self.eos, self.pad)
        return images, tin, tout

    # ---- decoding --------------------------------------------------------------------------------------
    def greedy_decode(self, images: Any, max_len: int = 20, return_attention: bool = False) -> list | tuple[list, list]:
        """Argmax captions (token lists without ``bos``, ending with ``eos`` when produced within ``max_len``).

        With ``return_attention=True`` also one array ``(len(tokens), R)`` per image (None without attention).
        """
        check_decode_args("ImageCaptioner", max_len)
        with no_grad():
            memory, (h, m) = self.encode(images)
            tokens, rows = self._decoder().greedy(concat([h, m], axis=-1), memory, max_len)
        return (tokens, rows) if return_attention else tokens

    def beam_search(self, images: Any, beam_size: int = 4, max_len: int = 20, length_penalty: float = 1.0) -> list:
        """Beam search per image, ranked by ``log p(y) / len(y)**length_penalty`` (as ``Seq2Seq.beam_search``);
        ``beam_size=1`` is greedy decoding."""
        check_decode_args("ImageCaptioner", max_len, beam_size)
        with no_grad():
            memory, (h, m) = self.encode(images)
            results, _ = self._decoder().beam(concat([h, m], axis=-1), memory, beam_size, max_len, length_penalty)
        return results

    def _decoder(self) -> StepDecoder:
        return StepDecoder(self.step, self.bos, self.eos)

    def extra_repr(self) -> str:
        return (
            f"image_shape={self.image_shape}, vocab_size={self.vocab_size}, encoder={self.encoder_kind!r}, "
            f"attention={self.attention is not None}, regions={self.regions}"
        )
