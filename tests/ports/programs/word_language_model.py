"""pytorch/examples ``word_language_model`` (``model.py``, ``data.py``, ``main.py`` at commit
77f55b912142e11fcfdf5b530231fb9c52f181e8, 2025-08-25): the RNN_TANH/RNN_RELU/LSTM/GRU and Transformer
word-level language models trained with truncated backpropagation through time, ported by renaming
the imports only.

The three files are concatenated in the order model -> data -> main, and the original import lines are
kept in ``ORIGINAL_IMPORTS`` for the side-by-side run on PyTorch. ``model.py`` and ``data.py`` are
unchanged below their imports. ``main.py``'s script (everything after ``args = parser.parse_args()``) is
the body of ``_run``, indented and otherwise unchanged except for the lines marked ``# port``:

* the argparse CLI is replaced by ``main(...)``, whose arguments fill an ``args`` namespace with the
  CLI's fields; the defaults are smaller (a tiny model, three epochs, and lr 5 instead of 20: at 20 this
  tiny model's training is chaotic, float32 rounding differences grow until two runs part); ``--data``
  is a temporary directory into which ``main`` writes a small deterministic corpus (train.txt,
  valid.txt, test.txt) for the example's unchanged ``data.Corpus``; ``--save`` is a file in it;
* ``import data`` / ``from model import ...`` are gone (the classes are above), ``data`` is a namespace
  holding ``Corpus``; ``import torch.onnx`` is dropped (ONNX export is out of scope: ``export_onnx`` is
  kept but, as in the original with its default ``--onnx-export ''``, never called);
* ``init`` (a state dict of numpy arrays) is loaded right after the model is built, so that a run on
  PyTorch and one here start from the same weights, and that starting state dict is returned;
* with ``dropout=0`` every dropout is switched off (``nn.Transformer`` keeps its own ``dropout=0.1``
  in its layers, whatever ``--dropout`` says), since the two frameworks draw different random masks;
* the per-batch training losses and the per-epoch validation losses are recorded and returned with
  the test loss;
* ``torch.save(model, f)`` pickles the whole module, and loading it back uses
  ``torch.serialization.safe_globals([... torch.nn.modules.rnn.LSTM ...])``; tinygrad_rnn refuses to
  pickle modules by design (and has neither ``torch.nn.modules`` nor ``torch.serialization.safe_globals``),
  so the best model is saved as its ``state_dict()`` and restored with ``load_state_dict(torch.load(f))``,
  which is what the original's load achieves.

``TransformerModel`` and ``PositionalEncoding`` run unchanged too; ``PositionalEncoding`` needs
``torch.sin``/``torch.cos`` (the Transformer tests are expected failures where tinygrad_rnn lacks them).
"""
# ruff: noqa: UP004, UP020, UP029, UP032

import math
import os
import tempfile
import time
from io import open
from types import SimpleNamespace

import tinygrad_rnn as torch
import tinygrad_rnn.nn as nn
import tinygrad_rnn.nn.functional as F

ORIGINAL_IMPORTS = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
RENAMED_IMPORTS = "import tinygrad_rnn as torch\nimport tinygrad_rnn.nn as nn\nimport tinygrad_rnn.nn.functional as F\n"


# ---- model.py ------------------------------------------------------------------------------------

class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ['LSTM', 'GRU']:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            try:
                nonlinearity = {'RNN_TANH': 'tanh', 'RNN_RELU': 'relu'}[rnn_type]
            except KeyError as e:
                raise ValueError( """An invalid option for `--model` was supplied,
                                 options are ['LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU']""") from e
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

        # Optionally tie weights as in:
        # "Using the Output Embedding to Improve Language Models" (Press & Wolf 2016)
        # https://arxiv.org/abs/1608.05859
        # and
        # "Tying Word Vectors and Word Classifiers: A Loss Framework for Language Modeling" (Inan et al. 2016)
        # https://arxiv.org/abs/1611.01462
        if tie_weights:
            if nhid != ninp:
                raise ValueError('When using the tied flag, nhid must be equal to emsize')
            self.decoder.weight = self.encoder.weight

        self.init_weights()

        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == 'LSTM':
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        else:
            return weight.new_zeros(self.nlayers, bsz, self.nhid)

# Temporarily leave PositionalEncoding module here. Will be moved somewhere else.
class PositionalEncoding(nn.Module):
    r"""Inject some information about the relative or absolute position of the tokens in the sequence.
        The positional encodings have the same dimension as the embeddings, so that the two can be summed.
        Here, we use sine and cosine functions of different frequencies.
    .. math:
        \text{PosEncoder}(pos, 2i) = sin(pos/10000^(2i/d_model))
        \text{PosEncoder}(pos, 2i+1) = cos(pos/10000^(2i/d_model))
        \text{where pos is the word position and i is the embed idx)
    Args:
        d_model: the embed dim (required).
        dropout: the dropout value (default=0.1).
        max_len: the max. length of the incoming sequence (default=5000).
    Examples:
        >>> pos_encoder = PositionalEncoding(d_model)
    """

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super(PositionalEncoding, self).__init__()
        self.dropout = nn.Dropout(p=dropout)

        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0).transpose(0, 1)
        self.register_buffer('pe', pe)

    def forward(self, x):
        r"""Inputs of forward function
        Args:
            x: the sequence fed to the positional encoder model (required).
        Shape:
            x: [sequence length, batch size, embed dim]
            output: [sequence length, batch size, embed dim]
        Examples:
            >>> output = pos_encoder(x)
        """

        x = x + self.pe[:x.size(0), :]
        return self.dropout(x)

class TransformerModel(nn.Transformer):
    """Container module with an encoder, a recurrent or transformer module, and a decoder."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super(TransformerModel, self).__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers)
        self.model_type = 'Transformer'
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)

        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)

        self.init_weights()

    def _generate_square_subsequent_mask(self, sz):
        return torch.log(torch.tril(torch.ones(sz,sz)))

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src, has_mask=True):
        if has_mask:
            device = src.device
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                mask = self._generate_square_subsequent_mask(len(src)).to(device)
                self.src_mask = mask
        else:
            self.src_mask = None

        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.encoder(src, mask=self.src_mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)


# ---- data.py -------------------------------------------------------------------------------------

class Dictionary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


class Corpus(object):
    def __init__(self, path):
        self.dictionary = Dictionary()
        self.train = self.tokenize(os.path.join(path, 'train.txt'))
        self.valid = self.tokenize(os.path.join(path, 'valid.txt'))
        self.test = self.tokenize(os.path.join(path, 'test.txt'))

    def tokenize(self, path):
        """Tokenizes a text file."""
        assert os.path.exists(path)
        # Add words to the dictionary
        with open(path, 'r', encoding="utf8") as f:
            for line in f:
                words = line.split() + ['<eos>']
                for word in words:
                    self.dictionary.add_word(word)

        # Tokenize file content
        with open(path, 'r', encoding="utf8") as f:
            idss = []
            for line in f:
                words = line.split() + ['<eos>']
                ids = []
                for word in words:
                    ids.append(self.dictionary.word2idx[word])
                idss.append(torch.tensor(ids).type(torch.int64))
            ids = torch.cat(idss)

        return ids


# ---- main.py, around a test harness ---------------------------------------------------------------

_WORDS = {
    "det": ["the", "a", "every", "no"],
    "adj": ["small", "red", "quick", "old", "happy"],
    "noun": ["cat", "dog", "bird", "fish", "child", "teacher"],
    "verb": ["sees", "likes", "chases", "follows", "finds"],
    "adv": ["today", "again", "slowly", "there"],
}


def _sentences(n, seed):
    """``n`` deterministic sentences "det [adj] noun verb det [adj] noun [adv] ." from a fixed grammar."""
    state, lines = seed, []

    def pick(kind):
        nonlocal state
        state = (state * 1103515245 + 12345) % 2**31  # a fixed LCG: the same text everywhere
        words = _WORDS[kind]
        return words[(state >> 16) % len(words)]

    for _ in range(n):
        words = [pick("det")]
        if pick("adv") in ("today", "again"):
            words.append(pick("adj"))
        words += [pick("noun"), pick("verb"), pick("det"), pick("noun")]
        if pick("adv") == "there":
            words.append(pick("adv"))
        lines.append(" ".join(words + ["."]))
    return lines


def _write_corpus(path, n_train=60, n_valid=12, n_test=12):
    for name, n, seed in (("train", n_train, 1), ("valid", n_valid, 2), ("test", n_test, 3)):
        with open(os.path.join(path, f"{name}.txt"), "w", encoding="utf8") as f:
            f.write("\n".join(_sentences(n, seed)) + "\n")


def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        if isinstance(m, nn.MultiheadAttention):
            m.dropout = 0.0


def main(model_type="LSTM", epochs=3, init=None, emsize=16, nhid=16, nlayers=2, lr=5.0, clip=0.25,
         batch_size=4, bptt=10, dropout=0.0, tied=False, nhead=2, seed=1111, use_optimizer=False,
         log_interval=200, dry_run=False, n_train=60, n_valid=12, n_test=12, accel=False):
    """The example's ``main.py`` with these arguments for its CLI's (``model_type`` is ``--model``);
    returns (per-batch training losses, per-epoch validation losses, test loss, initial state dict)."""
    with tempfile.TemporaryDirectory() as path:
        _write_corpus(path, n_train, n_valid, n_test)
        args = SimpleNamespace(
            data=path, model=model_type, emsize=emsize, nhid=nhid, nlayers=nlayers, lr=lr, clip=clip,
            epochs=epochs, batch_size=batch_size, bptt=bptt, dropout=dropout, tied=tied, seed=seed,
            log_interval=log_interval, save=os.path.join(path, "model.pt"), onnx_export="", nhead=nhead,
            dry_run=dry_run, accel=accel, use_optimizer=use_optimizer,
        )
        return _run(args, init)


def _run(args, init):
    """``main.py`` from ``args = parser.parse_args()`` on."""
    train_losses, val_losses = [], []  # port
    # Set the random seed manually for reproducibility.
    torch.manual_seed(args.seed)

    if args.accel and torch.accelerator.is_available():
        device = torch.accelerator.current_accelerator()

    else:
        device = torch.device("cpu")

    print("Using device:", device)

    ###############################################################################
    # Load data
    ###############################################################################

    data = SimpleNamespace(Corpus=Corpus)  # port: main.py's `import data` (data.py is above)
    corpus = data.Corpus(args.data)

    # Starting from sequential data, batchify arranges the dataset into columns.
    # For instance, with the alphabet as the sequence and batch size 4, we'd get
    # ┌ a g m s ┐
    # │ b h n t │
    # │ c i o u │
    # │ d j p v │
    # │ e k q w │
    # └ f l r x ┘.
    # These columns are treated as independent by the model, which means that the
    # dependence of e. g. 'g' on 'f' can not be learned, but allows more efficient
    # batch processing.

    def batchify(data, bsz):
        # Work out how cleanly we can divide the dataset into bsz parts.
        nbatch = data.size(0) // bsz
        # Trim off any extra elements that wouldn't cleanly fit (remainders).
        data = data.narrow(0, 0, nbatch * bsz)
        # Evenly divide the data across the bsz batches.
        data = data.view(bsz, -1).t().contiguous()
        return data.to(device)

    eval_batch_size = 10
    train_data = batchify(corpus.train, args.batch_size)
    val_data = batchify(corpus.valid, eval_batch_size)
    test_data = batchify(corpus.test, eval_batch_size)

    ###############################################################################
    # Build the model
    ###############################################################################

    ntokens = len(corpus.dictionary)
    if args.model == 'Transformer':
        model = TransformerModel(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers, args.dropout).to(device)
    else:
        model = RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied).to(device)
    if init is not None:  # port: both runs start from the same weights
        model.load_state_dict(init)
    start = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    if args.dropout == 0:  # port: nn.Transformer's own layers keep its default dropout=0.1; off for parity
        _no_dropout(model)

    criterion = nn.NLLLoss()
    if args.use_optimizer:
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)

    ###############################################################################
    # Training code
    ###############################################################################

    def repackage_hidden(h):
        """Wraps hidden states in new Tensors, to detach them from their history."""

        if isinstance(h, torch.Tensor):
            return h.detach()
        else:
            return tuple(repackage_hidden(v) for v in h)


    # get_batch subdivides the source data into chunks of length args.bptt.
    # If source is equal to the example output of the batchify function, with
    # a bptt-limit of 2, we'd get the following two Variables for i = 0:
    # ┌ a g m s ┐ ┌ b h n t ┐
    # └ b h n t ┘ └ c i o u ┘
    # Note that despite the name of the function, the subdivison of data is not
    # done along the batch dimension (i.e. dimension 1), since that was handled
    # by the batchify function. The chunks are along dimension 0, corresponding
    # to the seq_len dimension in the LSTM.

    def get_batch(source, i):
        seq_len = min(args.bptt, len(source) - 1 - i)
        data = source[i:i+seq_len]
        target = source[i+1:i+1+seq_len].view(-1)
        return data, target


    def evaluate(data_source):
        # Turn on evaluation mode which disables dropout.
        model.eval()
        total_loss = 0.
        ntokens = len(corpus.dictionary)
        if args.model != 'Transformer':
            hidden = model.init_hidden(eval_batch_size)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, args.bptt):
                data, targets = get_batch(data_source, i)
                if args.model == 'Transformer':
                    output = model(data)
                    output = output.view(-1, ntokens)
                else:
                    output, hidden = model(data, hidden)
                    hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)


    def train():
        # Turn on training mode which enables dropout.
        model.train()
        total_loss = 0.
        start_time = time.time()
        ntokens = len(corpus.dictionary)
        if args.model != 'Transformer':
            hidden = model.init_hidden(args.batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            data, targets = get_batch(train_data, i)
            # Starting each batch, we detach the hidden state from how it was previously produced.
            # If we didn't, the model would try backpropagating all the way to start of the dataset.
            if args.use_optimizer:
                optimizer.zero_grad()
            else:
                model.zero_grad()
            if args.model == 'Transformer':
                output = model(data)
                output = output.view(-1, ntokens)
            else:
                hidden = repackage_hidden(hidden)
                output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()

            # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            if args.use_optimizer:
                optimizer.step()
            else:
                for p in model.parameters():
                    p.data.add_(p.grad, alpha=-lr)

            total_loss += loss.item()
            train_losses.append(loss.item())  # port: recorded for the test

            if batch % args.log_interval == 0 and batch > 0:
                cur_loss = total_loss / args.log_interval
                elapsed = time.time() - start_time
                print('| epoch {:3d} | {:5d}/{:5d} batches | lr {:02.2f} | ms/batch {:5.2f} | '
                        'loss {:5.2f} | ppl {:8.2f}'.format(
                    epoch, batch, len(train_data) // args.bptt, lr,
                    elapsed * 1000 / args.log_interval, cur_loss, math.exp(cur_loss)))
                total_loss = 0
                start_time = time.time()
            if args.dry_run:
                break


    def export_onnx(path, batch_size, seq_len):
        print('The model is also exported in ONNX format at {}.'.format(os.path.realpath(args.onnx_export)))
        model.eval()
        dummy_input = torch.LongTensor(seq_len * batch_size).zero_().view(-1, batch_size).to(device)
        hidden = model.init_hidden(batch_size)
        torch.onnx.export(model, (dummy_input, hidden), path)


    # Loop over epochs.
    lr = args.lr
    best_val_loss = None

    # At any point you can hit Ctrl + C to break out of training early.
    try:
        for epoch in range(1, args.epochs+1):
            epoch_start_time = time.time()
            train()
            val_loss = evaluate(val_data)
            val_losses.append(val_loss)  # port: recorded for the test
            print('-' * 89)
            print('| end of epoch {:3d} | time: {:5.2f}s | valid loss {:5.2f} | '
                    'valid ppl {:8.2f}'.format(epoch, (time.time() - epoch_start_time),
                                               val_loss, math.exp(val_loss)))
            print('-' * 89)
            # Save the model if the validation loss is the best we've seen so far.
            if not best_val_loss or val_loss < best_val_loss:
                with open(args.save, 'wb') as f:
                    torch.save(model.state_dict(), f)  # port: was `torch.save(model, f)`, see the docstring
                best_val_loss = val_loss
            else:
                # Anneal the learning rate if no improvement has been seen in the validation dataset.
                lr /= 4.0
    except KeyboardInterrupt:
        print('-' * 89)
        print('Exiting from training early')

    # Load the best saved model.
    with open(args.save, 'rb') as f:
        # port: the original unpickles the whole model, `with torch.serialization.safe_globals([RNNModel,
        # torch.nn.modules.rnn.LSTM, ...]): model = torch.load(f)`; here the saved state_dict is loaded back
        model.load_state_dict(torch.load(f))
        # after load the rnn params are not a continuous chunk of memory
        # this makes them a continuous chunk, and will speed up forward pass
        # Currently, only rnn model supports flatten_parameters function.
        if args.model in ['RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU']:
            model.rnn.flatten_parameters()

    # Run on test data.
    test_loss = evaluate(test_data)
    print('=' * 89)
    print('| End of training | test loss {:5.2f} | test ppl {:8.2f}'.format(
        test_loss, math.exp(test_loss)))
    print('=' * 89)

    if len(args.onnx_export) > 0:
        # Export the model in ONNX format.
        export_onnx(args.onnx_export, batch_size=1, seq_len=args.bptt)

    return train_losses, val_losses, test_loss, start  # port
