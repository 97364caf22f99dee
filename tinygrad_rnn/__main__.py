"""``python -m tinygrad_rnn``: the tinygrad-rnn command line (see :mod:`tinygrad_rnn.cli`)."""

from .cli import main

raise SystemExit(main())
