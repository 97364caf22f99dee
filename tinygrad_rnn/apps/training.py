"""The training loop behind ``tinygrad-rnn train``: progress, periodic checkpoints, and a stop on Ctrl-C
(one process) or on a signal agreed by every rank (an MPI job) that always leaves a committed step."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any

import numpy as np

from . import charlm, ranks
from .interrupt import defer_sigint

DEFAULT_CHECKPOINT = os.path.join("runs", "charlm.npz")


def _progress(total: int, initial: int, plain: bool) -> Any:
    """A live tqdm bar, or None: then the caller prints a line every 10 % of the steps.

    tqdm decides (``disable=None``): the text bar only when its stream (stderr) is a terminal, since in a
    CI log or a redirected file every refresh would be one more copy of the bar. A notebook gets tqdm's
    widget (tqdm.auto) whatever its streams say. None too when ``plain`` or when tqdm is missing.
    """
    if plain:
        return None
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415  (optional)
        from tqdm.autonotebook import tqdm as chosen  # noqa: PLC0415  (what tqdm.auto builds on)
        from tqdm.std import tqdm as text_bar  # noqa: PLC0415
    except ImportError:
        return None
    disable = None if chosen is text_bar else False
    bar = tqdm(total=total, initial=initial, desc="train", unit="step", mininterval=1.0, disable=disable)
    if bar.disable:
        bar.close()
        return None
    return bar


def run_training(
    trainer: charlm.Trainer, steps: int, checkpoint: str | None, every: int | None, plain: bool = False
) -> int:
    """Train until ``trainer.step == steps``; checkpoint every ``every`` steps, at the end and on Ctrl-C.

    Returns 0, or 130 after Ctrl-C. Whenever the signal lands, the checkpoint holds a committed step: a
    window in progress is dropped, while an optimizer update or a checkpoint write already under way is
    finished first (:meth:`charlm.Trainer.train_step`, :meth:`charlm.Trainer.save`).
    """
    if trainer.world > 1:
        return _run_ranks(trainer, steps, checkpoint, every, plain)
    bar = _progress(steps, trainer.step, plain)
    report = max(1, steps // 10)
    t0, tok0 = time.perf_counter(), trainer.tokens
    try:
        while trainer.step < steps:
            loss = trainer.train_step()
            _show_step(trainer, loss, steps, bar, report, t0, tok0)
            if checkpoint and every and trainer.step % every == 0 and trainer.step < steps:
                trainer.save(checkpoint)
        if bar is not None:
            bar.close()
        if checkpoint:  # inside the try: a Ctrl-C during this last save must still end in the 130 path
            trainer.save(checkpoint)
            print(f"checkpoint written to {checkpoint} (step {trainer.step})")
    except KeyboardInterrupt as e:
        _stop_interrupted(trainer, checkpoint or DEFAULT_CHECKPOINT, bar, str(e))
        return 130
    return 0


def _show_step(trainer: charlm.Trainer, loss: float, steps: int, bar: Any, report: int, t0: float, tok0: int) -> None:
    """Advance the progress bar, or print a line every ``report`` steps (the token rate since ``t0``)."""
    rate = (trainer.tokens - tok0) / max(time.perf_counter() - t0, 1e-9)
    recent = float(np.mean(trainer.losses[-20:]))
    if bar is not None:
        bar.update(1)
        bar.set_postfix(loss=f"{recent:.3f}", tok_s=f"{rate:,.0f}", refresh=False)  # redrawn at mininterval
    elif trainer.step % report == 0 or trainer.step == steps:
        print(
            f"step {trainer.step:6d}/{steps}  loss {loss:.4f}  (avg {recent:.4f})  {rate:,.0f} tokens/s",
            flush=True,
        )


def _run_ranks(trainer: charlm.Trainer, steps: int, checkpoint: str | None, every: int | None, plain: bool) -> int:
    """:func:`run_training` for one rank of an MPI job; every rank runs this loop, in step.

    Rank 0 alone shows progress and writes checkpoints (the others send it their carried state in
    :meth:`charlm.Trainer.save`). A Ctrl-C cannot be a KeyboardInterrupt here: a rank that left the loop
    on its own would leave the others waiting in the next gradient allreduce. Instead SIGINT/SIGTERM are
    recorded (:func:`ranks.stop_on_signals`) and before each step the ranks agree whether any got one;
    then all stop after the same committed step, write its checkpoint and return 128 + the signal number.
    """
    lead = trainer.rank == 0
    bar = _progress(steps, trainer.step, plain) if lead else None
    report = max(1, steps // 10)
    t0, tok0 = time.perf_counter(), trainer.tokens
    with ranks.stop_on_signals():
        signum = 0
        while trainer.step < steps and not (signum := ranks.stop_agreed()):
            loss = trainer.train_step()
            if lead:
                _show_step(trainer, loss, steps, bar, report, t0, tok0)
            if checkpoint and every and trainer.step % every == 0 and trainer.step < steps:
                trainer.save(checkpoint)
        if bar is not None:
            bar.close()
        if not signum and checkpoint:
            trainer.save(checkpoint)
        signum = signum or ranks.stop_agreed()  # one during the final save: reported, as in one process
        path = checkpoint or DEFAULT_CHECKPOINT
        if signum and trainer.last_saved != (path, trainer.step):
            trainer.save(path)
    if lead and signum:
        print(
            f"\ninterrupted at step {trainer.step} ({signal.Signals(signum).name} reached a rank; all "
            f"{trainer.world} ranks stopped after this step): checkpoint written to {path} (continue with --resume)",
            file=sys.stderr,
        )
    elif lead and checkpoint:
        print(f"checkpoint written to {checkpoint} (step {trainer.step})")
    return 128 + signum if signum else 0


def _stop_interrupted(trainer: charlm.Trainer, path: str, bar: Any, completed: str) -> None:
    """Write the interrupted run's checkpoint (unless ``path`` already holds this step) and say so.

    ``completed`` names the section the Ctrl-C was held over (empty when it struck between sections).
    We are stopping anyway, so a further Ctrl-C meanwhile is held until the end and then ignored. (One
    that lands in the few bytecodes before this block is entered ends the program through ``main``'s
    handler, without this checkpoint; what is on disk is still a committed step.)
    """
    with contextlib.suppress(KeyboardInterrupt), defer_sigint():
        if bar is not None:
            bar.close()
        if trainer.last_saved != (path, trainer.step):
            trainer.save(path)
        held = f" (Ctrl-C came during the {completed}, which was completed first)" if completed else ""
        print(
            f"\ninterrupted at step {trainer.step}{held}: checkpoint written to {path} (continue with --resume)",
            file=sys.stderr,
        )
