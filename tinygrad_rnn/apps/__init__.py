"""Ready-made applications built on tinygrad_rnn (used by the ``tinygrad-rnn`` command line)."""
