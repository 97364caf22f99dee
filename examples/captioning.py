"""Image captioning on synthetic scenes: an MLP encoder + LSTM decoder, with and without region attention.

    python examples/captioning.py [--steps 400] [--objects 2] [--seed 0] [--plot caption_attn.png]

Each 3x12x12 image holds one or two coloured shapes (square/circle, small/big, four colours) in the left
and/or right half; its caption reads e.g. "a small red square left of a big blue circle". Two captioners
are trained with teacher forcing on the same batches: a global MLP encoder (one image vector) and region
features (a 2x2 grid, shared MLP) with additive attention. Held-out captions are decoded greedily and with
beam search; we report exact match (the whole caption right) and token F1 (clipped unigram overlap).
``--plot`` draws the attention model's weights over the 4 regions for every generated word.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.captioning import ImageCaptioner, caption_vocab, encode_captions, exact_match, make_scenes
from tinygrad_rnn.models.captioning import token_overlap_f1 as f1

IMAGE = (3, 12, 12)


def train(attention: bool, args: argparse.Namespace, images: np.ndarray, ids: list, vocab_size: int) -> ImageCaptioner:
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = ImageCaptioner(IMAGE, vocab_size, emb=args.emb, hidden=args.hidden, attention=attention)
    params = list(model.parameters())
    opt = optim.Adam(params, lr=args.lr)
    name = "attention" if attention else "mlp"
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        idx = rng.integers(0, len(images), args.batch)
        loss = model.loss(*model.batch(images[idx], [ids[i] for i in idx]))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % max(1, args.steps // 4) == 0 or step == args.steps:
            print(
                f"  [{name:>9}] step {step:4d}/{args.steps}  loss {loss.item():.3f}  ({time.perf_counter() - t0:.0f} s)"
            )
    return model


def save_attention_plot(model: ImageCaptioner, image: np.ndarray, words: list, path: str) -> bool:
    """The image and, per generated word, the attention over the 2x2 regions; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    (_,), (weights,) = model.greedy_decode(image[None], max_len=12, return_attention=True)
    gh, gw = model.regions
    k = len(words)
    fig, axes = plt.subplots(1, k + 1, figsize=(1.6 * (k + 1), 1.9))
    axes[0].imshow(np.clip(image[:3].transpose(1, 2, 0), 0, 1))
    axes[0].set_title("image", fontsize=8)
    for ax, w, word in zip(axes[1:], weights, words):
        ax.imshow(w.reshape(gh, gw), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(word, fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--objects", type=int, default=2, choices=(1, 2), help="at most this many shapes per image")
    ap.add_argument("--train", type=int, default=4000, help="training scenes")
    ap.add_argument("--test", type=int, default=300, help="held-out scenes")
    ap.add_argument("--beam", type=int, default=3)
    ap.add_argument("--emb", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default="", help="save the attention maps here (PNG; needs matplotlib)")
    args = ap.parse_args(argv)
    vocab = caption_vocab()
    images, caps = make_scenes(args.train, seed=args.seed, image_shape=IMAGE, max_objects=args.objects)
    test_images, test_caps = make_scenes(
        args.test, seed=10_000 + args.seed, image_shape=IMAGE, max_objects=args.objects
    )
    ids, refs = encode_captions(vocab, caps), encode_captions(vocab, test_caps)
    eos = vocab.eos_id
    result: dict = {}
    models = {}
    for attention in (False, True):
        name = "attention" if attention else "mlp"
        print(f"training the {name} captioner ({args.steps} steps, up to {args.objects} shapes per image)")
        model = models[name] = train(attention, args, images, ids, len(vocab))
        greedy = model.greedy_decode(test_images, max_len=12)
        beam = model.beam_search(test_images, beam_size=args.beam, max_len=12)
        result[name] = {
            "greedy_exact": exact_match(greedy, refs, eos),
            "greedy_f1": f1(greedy, refs, eos),
            "beam_exact": exact_match(beam, refs, eos),
            "beam_f1": f1(beam, refs, eos),
        }
    print(f"\nheld-out scenes: {len(refs)}   (beam size {args.beam})")
    for name, r in result.items():
        print(
            f"  {name:>9}: greedy exact {r['greedy_exact']:.3f} F1 {r['greedy_f1']:.3f}   "
            f"beam exact {r['beam_exact']:.3f} F1 {r['beam_f1']:.3f}"
        )
    pred = vocab.decode(models["attention"].greedy_decode(test_images[:1], max_len=12)[0])
    print(f"example: truth {' '.join(test_caps[0])!r}\n         model {' '.join(pred)!r}")
    if args.plot and save_attention_plot(models["attention"], test_images[0], pred, args.plot):
        print(f"attention maps written to {args.plot}")
        result["plot"] = args.plot
    return result


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
