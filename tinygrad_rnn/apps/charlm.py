"""Character-level language model trained with stateful truncated BPTT, as a reusable library.

:class:`CharLM` (Embedding -> LSTM/GRU/RNN -> Linear), corpus loading, :func:`batchify`, :func:`sample` and a
:class:`Trainer` whose complete state (model, optimizer, step, RNG, data position and the carried recurrent
state) goes into one checkpoint written atomically with :func:`tinygrad_rnn.save`, so that training
10 steps, saving, resuming and training 10 more gives the same numbers as training 20 steps straight.

Created inside a process group of K > 1 ranks (``mpiexec -n K``, see :mod:`.ranks`), the Trainer trains
data-parallel: ``config.batch`` is the batch of each rank, the corpus is cut into ``K * batch`` streams
and rank r walks its own contiguous ``batch`` of them (as
:class:`~tinygrad_rnn.utils.data.distributed.ShardedStream` would give it), the model is wrapped in
``DistributedDataParallel``, and the recorded loss is the average over the ranks. K ranks therefore
follow the run of one process with batch ``K * batch``. Rank 0 alone reads the corpus and the checkpoint
and writes checkpoints; a checkpoint holds the carried state of all ``K * batch`` streams, so it can be
resumed by any number of ranks that divides them (one process included).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from .. import backend, nn, optim
from ..autograd import no_grad
from ..nn import functional as F
from ..nn.parallel import DistributedDataParallel
from ..serialization import load, save
from ..tensor import Tensor
from . import corpus, ranks
from .interrupt import defer_sigint, pause_for_tests

CELLS = ("lstm", "gru", "rnn")
BUILTIN_CORPORA = ("pydoc", "zen")


def load_corpus(name: str) -> str:
    """``pydoc`` (the prose of the language reference in ``pydoc_data``, see :mod:`.corpus`), ``zen`` (the
    Zen of Python) or the path of a UTF-8 text file."""
    if name == "zen":
        return corpus.zen()
    if name == "pydoc":
        try:
            return corpus.pydoc_prose()
        except ImportError:  # some distributions split pydoc_data out of the standard library
            print("pydoc_data is not installed with this Python; using the Zen of Python instead")
            return corpus.zen()
    with open(name, encoding="utf-8") as f:
        return f.read()


class CharLM(nn.Module):
    """Embedding -> LSTM/GRU/RNN -> Linear over the vocabulary, one output per step (sequence-to-sequence)."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int = 1, cell: str = "lstm") -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharLM: cell must be one of {CELLS}, got {cell!r}")
        self.cell = cell
        self.embed = nn.Embedding(vocab, embed)
        rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.rnn = rnn_cls(embed, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: Tensor, state: Any = None) -> tuple:
        out, state = self.rnn(self.embed(ids), state)  # (T, N, H)
        return self.head(out), state  # (T, N, V)


def batchify(ids: np.ndarray, batch: int) -> np.ndarray:
    """(T, batch) int array: ``batch`` contiguous streams side by side."""
    n = len(ids) // batch
    return ids[: n * batch].reshape(batch, n).T.copy()


@no_grad()
def sample(
    model: CharLM,
    chars: list[str] | str,
    prompt: str,
    length: int,
    temperature: float,
    rng: np.random.Generator | None = None,
) -> str:
    """``prompt`` followed by ``length`` characters drawn at ``temperature`` (host RNG unless ``rng`` given)."""
    chars = list(chars)
    was_training = model.training
    model.eval()
    stoi = {c: i for i, c in enumerate(chars)}
    ids = [stoi[c] for c in prompt if c in stoi] or [0]
    logits, state = model(Tensor(np.array(ids)[:, None]))
    out = []
    rng = rng if rng is not None else backend.host_rng()
    for _ in range(length):
        z = logits.numpy()[-1, 0].astype(np.float64) / max(temperature, 1e-6)
        p = np.exp(z - z.max())
        nxt = int(rng.choice(len(chars), p=p / p.sum()))
        out.append(chars[nxt])
        logits, state = model(Tensor(np.array([[nxt]])), state)
    model.train(was_training)
    return prompt + "".join(out)


# ---- carried recurrent state <-> plain arrays (for checkpoints) ----------------------------------------
def state_to_arrays(state: Any) -> Any:
    """The carried state (None, a tensor, or a tuple of tensors) as host arrays that tg.save can write."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return [state_to_arrays(s) for s in state]
    return np.array(state.numpy())


def arrays_to_state(saved: Any) -> Any:
    if saved is None:
        return None
    if isinstance(saved, (tuple, list)):
        return tuple(arrays_to_state(s) for s in saved)
    return Tensor(backend.to_backend(saved))


def join_states(parts: list[Any]) -> Any:
    """The ranks' saved states (from :func:`state_to_arrays`, in rank order) as one: the streams side by side.

    A recurrent state is ``(layers, streams, hidden)``, so the ranks' streams are joined along axis 1,
    giving exactly the state one process walking all the streams would carry.
    """
    first = parts[0]
    if first is None:
        return None
    if isinstance(first, (tuple, list)):
        return [join_states([p[i] for p in parts]) for i in range(len(first))]
    return np.concatenate(parts, axis=1)


def split_state(saved: Any, rank: int, batch: int) -> Any:
    """Rank ``rank``'s ``batch`` streams of a saved state of all streams (the inverse of :func:`join_states`)."""
    if saved is None:
        return None
    if isinstance(saved, (tuple, list)):
        return [split_state(s, rank, batch) for s in saved]
    return np.ascontiguousarray(np.asarray(saved)[:, rank * batch : (rank + 1) * batch])


def read_checkpoint(path: str) -> dict:
    """The training checkpoint at ``path`` (ValueError if the file is something else)."""
    ck = load(path)
    if not isinstance(ck, dict) or ck.get("kind") != "charlm":
        raise ValueError(f"{path} is not a tinygrad_rnn char-LM training checkpoint")
    return ck


@dataclass
class TrainConfig:
    """Everything that defines a run (saved in the checkpoint as JSON)."""

    cell: str = "lstm"
    corpus: str = "zen"
    hidden: int = 128
    embed: int = 64
    layers: int = 1
    batch: int = 16
    bptt: int = 32
    lr: float = 3e-3
    clip: float = 1.0
    seed: int = 0

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        raw = json.loads(text)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


class Trainer:
    """Stateful TBPTT over ``config.batch`` parallel streams of the corpus, one optimizer step per window."""

    def __init__(self, config: TrainConfig, text: str | None = None) -> None:
        self.config = config
        self.world, self.rank = ranks.world()  # (1, 0) outside an MPI job: the single-process trainer
        backend.manual_seed(config.seed)
        self.text = ranks.on_rank0(lambda: load_corpus(config.corpus)) if text is None else text
        self.chars = sorted(set(self.text))
        stoi = {c: i for i, c in enumerate(self.chars)}
        streams = config.batch * self.world
        self.array = self._my_streams(batchify(np.array([stoi[c] for c in self.text], dtype=np.int64), streams))
        self.t_all = self.array.shape[0] - 1
        if self.t_all < 1:
            raise ValueError(f"corpus {config.corpus!r} is too short for {streams} streams")
        self.model = CharLM(len(self.chars), config.embed, config.hidden, config.layers, config.cell)
        # what the forward pass runs: under DDP, backward() leaves every rank the average gradient
        self.net = self.model if self.world == 1 else DistributedDataParallel(self.model)
        self.opt = optim.Adam(self.model.parameters(), lr=config.lr)
        self.step = 0  # optimizer steps done
        self.pos = 0  # next window starts at data[pos]
        self.state: Any = None  # carried (detached) recurrent state
        self.losses: list[float] = []
        self.tokens = 0
        # (path, step) of the last checkpoint written, so that stopping right after a save need not repeat it
        self.last_saved: tuple[str, int] | None = None

    def _my_streams(self, streams: np.ndarray) -> np.ndarray:
        """This rank's ``config.batch`` columns (contiguous parts of the corpus) of all ranks' streams."""
        if self.world == 1:
            return streams
        b = self.config.batch
        return streams[:, self.rank * b : (self.rank + 1) * b].copy()

    def train_step(self) -> float:
        """One BPTT window: forward, backward, clip, Adam step; returns the window's loss.

        Atomic with respect to Ctrl-C. Up to the update nothing that a checkpoint holds is touched (the graph
        and the gradients are rebuilt by every step, and nothing here draws from the RNG), so a
        KeyboardInterrupt there simply discards the window. The update and the bookkeeping that goes with it
        (step, data position, carried state, tokens, losses) run under :func:`defer_sigint`: all or nothing.
        """
        pos, state = self.pos, self.state
        if pos + 1 >= self.t_all:  # end of the streams: start over with a fresh state
            pos, state = 0, None
        k = min(self.config.bptt, self.t_all - pos)
        x = Tensor(self.array[pos : pos + k])
        y = self.array[pos + 1 : pos + 1 + k]
        logits, state = self.net(x, state)
        loss = F.cross_entropy(logits.reshape(-1, len(self.chars)), y.reshape(-1))
        self.opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
        pause_for_tests("window")  # test-only: inside the window in progress, which a Ctrl-C here drops
        value = ranks.mean(float(loss.item()))  # K ranks: the mean over all streams, as one process has it
        state = nn.utils.detach_state(state)  # truncate: the next window does not backprop into this one
        with defer_sigint("optimizer update"):
            self.opt.step()
            pause_for_tests("commit")  # test-only: where an unguarded Ctrl-C saved an updated model at the old step
            self.state = state
            self.pos = pos + k
            self.step += 1
            self.tokens += k * self.config.batch * self.world
            self.losses.append(value)
        return value

    # ---- checkpoints ---------------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        """The complete training state. With K ranks: collective (every rank must call it), and the carried
        state is that of all streams, so the dict is the same on every rank."""
        ck = {
            "kind": "charlm",
            "config": json.dumps(asdict(self.config)),
            "vocab": "".join(self.chars),
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "pos": self.pos,
            "state": self._all_streams_state(),
            "tokens": self.tokens,
            "rng": json.dumps(backend.host_rng().bit_generator.state),
            "losses": np.array(self.losses, dtype=np.float64),
        }
        if self.world > 1:  # config.batch is per rank: the run has world * batch streams
            ck["world"] = self.world
        return ck

    def _all_streams_state(self) -> Any:
        mine = state_to_arrays(self.state)
        return mine if self.world == 1 else join_states(ranks.gather(mine))

    def save(self, path: str) -> None:
        """Write the checkpoint to ``path`` atomically; a Ctrl-C meanwhile is delivered once it is written.

        With K ranks every rank calls it (they send rank 0 their carried state) and rank 0 writes; an
        error writing is raised on every rank.
        """
        with defer_sigint("checkpoint save"):
            ck = self.checkpoint()
            ranks.on_rank0(lambda: _write(ck, path))
            self.last_saved = (path, self.step)

    @classmethod
    def resume(cls, path: str, text: str | None = None) -> Trainer:
        """The Trainer that continues the checkpoint at ``path`` (with K ranks: rank 0 reads it, all get it)."""
        return cls.from_checkpoint(ranks.on_rank0(lambda: read_checkpoint(path)), path, text)

    @classmethod
    def from_checkpoint(cls, ck: dict, path: str, text: str | None = None) -> Trainer:
        """Rebuild the Trainer of a checkpoint dict (``path`` names it in errors).

        The checkpoint's streams are shared between the ranks of this run: a run of K ranks with batch b
        resumes on K' ranks with batch K*b/K' (the same training), if K' divides K*b.
        """
        config = TrainConfig.from_json(ck["config"])
        world, rank = ranks.world()
        streams = config.batch * int(ck.get("world", 1))
        if streams % world:
            raise ValueError(f"{path}: its {streams} streams cannot be shared equally by {world} ranks")
        config.batch = streams // world
        tr = cls(config, text)
        if "".join(tr.chars) != ck["vocab"]:
            raise ValueError(f"{path}: the corpus {tr.config.corpus!r} no longer has the checkpoint's vocabulary")
        tr.model.load_state_dict(ck["model"])
        tr.opt.load_state_dict(ck["optimizer"])
        tr.step, tr.pos, tr.tokens = int(ck["step"]), int(ck["pos"]), int(ck["tokens"])
        saved = ck["state"] if world == 1 else split_state(ck["state"], rank, config.batch)
        tr.state = arrays_to_state(saved)
        tr.losses = [float(v) for v in np.asarray(ck["losses"]).ravel()]
        backend.host_rng().bit_generator.state = json.loads(ck["rng"])
        return tr


def _write(ck: dict, path: str) -> None:
    """Rank 0's part of :meth:`Trainer.save` (the whole of it in one process)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pause_for_tests("save")
    save(ck, path)


def load_model(path: str) -> tuple[CharLM, list[str], TrainConfig]:
    """The model, vocabulary and config of a checkpoint written by :class:`Trainer` (or the demo)."""
    ck = load(path)
    if not isinstance(ck, dict) or "model" not in ck or "vocab" not in ck:
        raise ValueError(f"{path} is not a char-LM checkpoint (no 'model'/'vocab' entries)")
    cfg = TrainConfig.from_json(ck["config"]) if "config" in ck else TrainConfig()
    chars = list(ck["vocab"])
    model = CharLM(len(chars), cfg.embed, cfg.hidden, cfg.layers, cfg.cell)
    model.load_state_dict(ck["model"])
    return model, chars, cfg


def save_loss_curve(losses: list[float], path: str) -> bool:
    """Plot the loss of every step into the PNG ``path``; False (nothing written) without matplotlib."""
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415  (optional: the `examples` extra)
    except ImportError:
        return False
    fig = Figure(figsize=(6, 3.5))  # not pyplot: no display, and a caller's pyplot backend is left alone
    ax = fig.subplots()
    ax.plot(np.arange(1, len(losses) + 1), losses, lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss (nats per character)")
    ax.set_title("training curve")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    return True
