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
transformer         a token Transformer encoder (positions, lengths -> padding masks, masked mean
                    pooling) built on nn.MultiheadAttention / nn.TransformerEncoderLayer
dynamics            the notes' Euler-integrated driven spring as a recurrent cell; leaky units with
                    fixed, sampled or learned time constants (multiple timescales)
delays              multiple delay paths a_{t-d} -> a_t: gradients cross O(T/d) steps
esn                 echo state networks: fixed random reservoir at a set spectral radius, ridge
                    readout; Mackey-Glass generator, NRMSE
ntm                 Neural Turing Machine: LSTM controller, content + location addressing, erase/add
                    memory writes
hopfield            binary Hopfield network: Hebbian storage, asynchronous energy-descent recall,
                    capacity curve (plain NumPy: nothing is differentiated)
generative          the syllabus tail from framework ops: a tiny GAN and a denoising diffusion model
pixel               PixelRNN: raster-order LSTM image model p(x) = Π p(x_i | x_<i), bits/pixel, samples,
                    completions
captioning          image captioning: MLP (or region + additive attention) encoder, LSTM decoder,
                    greedy/beam decoding; synthetic shape scenes, exact match, token F1
=================== ==========================================================================
"""

from .captioning import ImageCaptioner, caption_vocab, encode_captions, make_scenes, token_overlap_f1
from .deep import StackedRNN
from .delays import MultiDelayRNN
from .dynamics import EulerSpringCell, LeakyRNN
from .esn import EchoStateNetwork, mackey_glass, nrmse
from .generative import GAN, Diffusion, gaussian_mixture_sampler, train_diffusion, train_gan
from .hopfield import HopfieldNetwork, capacity_curve
from .language import RNNLanguageModel, Vocab, analogy, nearest_neighbours, perplexity, sample
from .ntm import NTM
from .output_recurrent import OutputRecurrentRNN
from .pixel import PixelRNN, complete, independent_baseline_bits, make_digits, nll_bits_per_pixel
from .recursive import RecursiveNet, Tree
from .seq2seq import AdditiveAttention, Decoder, DotAttention, Encoder, Seq2Seq
from .transformer import (
    LayerNorm,
    MultiHeadAttention,
    TransformerEncoder,
    TransformerEncoderBlock,
    lengths_to_padding_mask,
    masked_mean,
    positional_encoding,
)

__all__ = [
    "OutputRecurrentRNN",
    "StackedRNN",
    "Seq2Seq",
    "Encoder",
    "Decoder",
    "AdditiveAttention",
    "DotAttention",
    "Vocab",
    "RNNLanguageModel",
    "sample",
    "perplexity",
    "nearest_neighbours",
    "analogy",
    "RecursiveNet",
    "Tree",
    "LayerNorm",
    "MultiHeadAttention",
    "TransformerEncoder",
    "TransformerEncoderBlock",
    "positional_encoding",
    "lengths_to_padding_mask",
    "masked_mean",
    "EulerSpringCell",
    "LeakyRNN",
    "MultiDelayRNN",
    "EchoStateNetwork",
    "mackey_glass",
    "nrmse",
    "NTM",
    "HopfieldNetwork",
    "capacity_curve",
    "GAN",
    "train_gan",
    "Diffusion",
    "train_diffusion",
    "gaussian_mixture_sampler",
    "PixelRNN",
    "complete",
    "independent_baseline_bits",
    "make_digits",
    "nll_bits_per_pixel",
    "ImageCaptioner",
    "caption_vocab",
    "encode_captions",
    "make_scenes",
    "token_overlap_f1",
]
