"""The demo's character LSTM trained data-parallel on K processes, checked against one process.

    mpiexec -n 2 python examples/distributed_char_lm.py --compare        # 2 ranks x 16 streams, and 1 x 32
    python examples/distributed_char_lm.py --compare                     # alone: a world of one
    # as root (a container): OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpiexec ...
    # more ranks than cores: mpiexec --oversubscribe -n 4 ...

Every rank builds the same model (``CharLM`` and the corpus from ``tinygrad_rnn.apps.charlm``, as in
``examples/char_lstm.py``), wraps it in ``DistributedDataParallel`` and trains on its own contiguous
part of the corpus: ``ShardedStream`` cuts the text into ``K * batch`` streams and gives each rank
``batch`` of them. Truncated BPTT walks them window by window, carrying the detached LSTM state from one
window to the next, so each rank's streams continue where they stopped. After ``backward()`` every
rank holds the average gradient, hence the same update: K ranks with batch b train exactly like one
process with batch K·b, up to the rounding of the gradient sums. Rank 0 prints the loss, averaged over
the ranks (each rank's loss is the mean over its own streams).

``--compare``: rank 0 then trains the single-process run with batch K·b from the same initial weights
(the other ranks are done by then and wait for it to finish) and prints both loss curves side by side,
with the largest relative difference; in float32 it is about 1e-7. Alone, both runs are the same
computation and the difference is 0.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.apps.charlm import CharLM, load_corpus
from tinygrad_rnn.utils.data.distributed import ShardedStream


def global_mean(value: float) -> float:
    """The loss over all ranks' streams: every rank has the same number, so it is the mean of the ranks'."""
    t = tg.tensor([value], dtype=tg.float64)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    return t.item()


def train(
    model: nn.Module,
    stream: ShardedStream,
    vocab: int,
    args: argparse.Namespace,
    mean: Callable[[float], float] = float,
) -> list[float]:
    """``args.steps`` Adam steps of stateful truncated BPTT over ``stream``'s windows; each step's loss.

    The carried state starts fresh at each pass over the data (the streams begin again there). The same
    function trains the DDP model on K ranks (``mean``: over the ranks) and the single-process reference.
    """
    params = list(model.parameters())
    opt = optim.Adam(params, lr=args.lr)
    losses: list[float] = []
    while True:
        state = None
        for x, y in stream:
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()  # under DDP the gradients are averaged over the ranks here
            nn.utils.clip_grad_norm_(params, args.clip)
            opt.step()
            state = nn.utils.detach_state(state)  # truncate: the next window does not backprop into this one
            losses.append(mean(loss.item()))
            if len(losses) == args.steps:
                return losses


def show_comparison(ranks: list[float], alone: list[float], world: int, batch: int, every: int) -> float:
    """Print the two loss curves side by side; return the largest relative difference over all steps."""
    rel = np.abs(np.array(ranks) - np.array(alone)) / np.abs(np.array(alone))
    print(f"\n{'step':>6}  {f'{world} ranks x {batch}':>14}  {f'1 process x {world * batch}':>16}  {'rel. diff':>9}")
    for i in range(len(ranks)):
        if (i + 1) % every == 0 or i == 0 or i + 1 == len(ranks):
            print(f"{i + 1:6d}  {ranks[i]:14.7f}  {alone[i]:16.7f}  {rel[i]:9.1e}")
    worst = float(rel.max())
    print(f"max relative difference over {len(ranks)} steps: {worst:.3e} ({tg.get_default_dtype()})")
    return worst


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Train the demo's character LSTM data-parallel under mpiexec.")
    ap.add_argument("--corpus", default="pydoc", help="pydoc | zen | path to a UTF-8 text file")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--steps", type=int, default=100, help="optimizer steps (one BPTT window each)")
    ap.add_argument("--batch", type=int, default=16, help="streams per rank (the global batch is K times this)")
    ap.add_argument("--bptt", type=int, default=32, help="window length of truncated BPTT")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", action="store_true", help="also train one process with batch K*batch (rank 0)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    dist.init_process_group()  # the world mpiexec started; alone: a world of one
    rank, world = dist.get_rank(), dist.get_world_size()
    text = load_corpus(args.corpus)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.int64)
    tg.manual_seed(args.seed)
    model = CharLM(len(chars), args.embed, args.hidden, args.layers)
    ddp = nn.parallel.DistributedDataParallel(model)  # every rank now has rank 0's initial weights
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    stream = ShardedStream(ids, args.batch, args.bptt)  # this rank's `batch` contiguous streams
    every = max(1, args.steps // 10)
    if rank == 0:
        print(
            f"corpus {args.corpus!r}: {len(text):,} chars, vocab {len(chars)}; {world} rank(s) x {args.batch} "
            f"streams of {stream.stream_length} chars, {len(stream)} windows of {args.bptt} per pass"
        )
    t0 = time.perf_counter()
    losses = train(ddp, stream, len(chars), args, mean=global_mean)
    seconds = time.perf_counter() - t0
    result: dict = {"world": world, "losses": losses, "seconds": seconds}
    if rank == 0:
        for i in range(every - 1, len(losses), every):
            print(f"step {i + 1:5d}  loss {losses[i]:.4f}")
        print(f"trained {args.steps} steps on {world} rank(s) in {seconds:.1f} s")
    if args.compare and rank == 0:
        alone = CharLM(len(chars), args.embed, args.hidden, args.layers)
        alone.load_state_dict(initial)  # the same start as the ranks
        whole = ShardedStream(ids, world * args.batch, args.bptt, num_replicas=1, rank=0)
        result["alone"] = train(alone, whole, len(chars), args)
        result["max_rel_diff"] = show_comparison(losses, result["alone"], world, args.batch, every)
    dist.destroy_process_group()
    return result


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
