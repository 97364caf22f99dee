"""Character-level LSTM language model, trained with truncated BPTT: the project's main demo (``make demo``).

    python examples/char_lstm.py [--corpus pydoc|zen|PATH] [--steps 800] [--temperature 0.6] [--seed 0]

This is the same demo as ``tinygrad-rnn demo``: both run :func:`tinygrad_rnn.apps.demo.run_demo`, a
short function over the library's character-level language model (:mod:`tinygrad_rnn.apps.charlm`):

* the corpus (``pydoc``, the default) is the prose of the Python language reference that ships with
  Python (``pydoc_data``, cleaned of its markup: see :mod:`tinygrad_rnn.apps.corpus`); ``zen`` is the
  Zen of Python; anything else is a path to a UTF-8 text file;
* the model, ``CharLM``, is Embedding -> LSTM -> Linear over the characters, one prediction per step;
* the text is cut into ``--batch`` parallel streams, walked in windows of ``--bptt`` characters. Each
  window is one optimizer step (``Trainer.train_step``): run the LSTM over it from the state the
  previous window left, cross-entropy against the next characters, backward, clip the gradient norm,
  Adam, then detach the state, so that the next window starts from it without backpropagating into this
  one (stateful truncated BPTT).

At the end it prints a sample at ``--temperature``, writes the checkpoint (resumable with
``tinygrad-rnn train --resume``) and the loss curve as a PNG next to it, and the commands that sample
from the checkpoint and draw the trained model's unfolded graph. The defaults (800 steps of 32 streams x
64 characters, 256 LSTM units, Adam at 5e-3) take about a minute on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys

import tinygrad_rnn as tg
from tinygrad_rnn.apps.demo import DESCRIPTION, DemoConfig, DemoResult, add_arguments, run_demo


def main(argv: list[str] | None = None) -> DemoResult:
    ap = argparse.ArgumentParser(description=DESCRIPTION)
    add_arguments(ap)  # --steps, --hidden, --temperature, --prompt, --out, ... with the demo's defaults
    result = run_demo(DemoConfig.from_args(ap.parse_args(argv)))
    if result.code:  # 130: interrupted with Ctrl-C, the checkpoint holds the last completed step
        sys.exit(result.code)
    return result


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
