"""Sequence architectures from the notes, composed from the framework's layers.

=================== ==========================================================================
module              what
=================== ==========================================================================
output_recurrent    the notes' second model (a Jordan network): teacher forcing, free running,
                    scheduled sampling
deep                stacked recurrent levels, bidirectional, with optional residual connections
seq2seq             GRU encoder-decoder, additive (Bahdanau) and dot (Luong) attention, greedy and
                    beam-search decoding
language            vocabularies, character/word RNN language models, sampling, perplexity,
                    embedding neighbours and analogies
recursive           tree-structured recursive networks, evaluated level by level without recursion
transformer         multi-head attention with masks, layer norm, position encodings, encoder blocks
=================== ==========================================================================
"""
from .deep import StackedRNN
from .language import RNNLanguageModel, Vocab, analogy, nearest_neighbours, perplexity, sample
from .output_recurrent import OutputRecurrentRNN
from .recursive import RecursiveNet, Tree
from .seq2seq import AdditiveAttention, Decoder, DotAttention, Encoder, Seq2Seq
from .transformer import (LayerNorm, MultiHeadAttention, TransformerEncoder, TransformerEncoderBlock,
                          positional_encoding)

__all__ = ["OutputRecurrentRNN", "StackedRNN", "Seq2Seq", "Encoder", "Decoder", "AdditiveAttention",
           "DotAttention", "Vocab", "RNNLanguageModel", "sample", "perplexity", "nearest_neighbours", "analogy",
           "RecursiveNet", "Tree", "LayerNorm", "MultiHeadAttention", "TransformerEncoder",
           "TransformerEncoderBlock", "positional_encoding"]
