# -*- coding: utf-8 -*-
"""pytorch/tutorials ``intermediate_source/seq2seq_translation_tutorial.py`` ("NLP From Scratch:
Translation with a Sequence to Sequence Network and Attention", Sean Robertson), ported by renaming
the imports only.

The code is the classic version of the tutorial, as of pytorch/tutorials commit
05e7ce2c19e72d482475d91d458db210cdacec38: ``EncoderRNN`` (``nn.Embedding`` + ``nn.GRU``),
``AttnDecoderRNN`` (attention over ``encoder_outputs`` with ``F.softmax``/``torch.bmm``/``torch.cat``),
the per-sentence ``train()`` that writes ``encoder_outputs[ei] = encoder_output[0, 0]``, teacher
forcing, ``nn.NLLLoss`` and ``optim.SGD``, and ``evaluate()`` with ``decoder_output.data.topk(1)``.

Around it, for a test (the tutorial's own lines are kept as they are):

- the eng-fra download (``data/eng-fra.txt``) is replaced by ``eng_fra_lines()``, a small parallel corpus
  made in code in the file's format (``English<TAB>French``); ``readLangs`` takes its lines from there
  instead of ``open(...)``, and the rest (``normalizeString``, ``filterPairs``, ``Lang``) is the tutorial's;
- ``trainIters`` returns the loss of every iteration instead of printing averages and plotting them;
  the timing helpers, matplotlib and the attention plots are dropped; ``evaluateRandomly`` returns
  its ``(input, target, output)`` triples instead of printing them;
- the module-level script is wrapped in ``main``, which seeds Python's ``random`` (the pair choices
  and the teacher-forcing coin flips), takes the sizes as arguments, and takes ``init`` (the encoder's
  and the decoder's state dicts) so that a run on PyTorch and one here start from the same weights.
  ``dropout_p`` is an argument too: the dropout masks come from each framework's own generator, so
  the side-by-side run uses ``dropout_p=0.0``.

The original import lines are kept in ``ORIGINAL_IMPORTS`` for the side-by-side run.
"""
# The tutorial's lines are kept as it writes them: its coding line, Python 2 era __future__ and io.open
# imports in its order (`string` unused), %-formatting, and trainIters' `print_loss_avg` (its print dropped).
# ruff: noqa: I001, UP009, UP010, UP029, UP031, F401, F841
from __future__ import unicode_literals, print_function, division
from io import open
import unicodedata
import string
import re
import random

import tinygrad_rnn as torch
import tinygrad_rnn.nn as nn
from tinygrad_rnn import optim
import tinygrad_rnn.nn.functional as F

ORIGINAL_IMPORTS = "import torch\nimport torch.nn as nn\nfrom torch import optim\nimport torch.nn.functional as F\n"
RENAMED_IMPORTS = "import tinygrad_rnn as torch\nimport tinygrad_rnn.nn as nn\nfrom tinygrad_rnn import optim\nimport tinygrad_rnn.nn.functional as F\n"

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def eng_fra_lines():
    """Stands in for ``data/eng-fra.txt``: tab-separated English/French pairs, made deterministically.
    Mixed case, accents, apostrophes and punctuation go through the tutorial's ``normalizeString``;
    the last few pairs are there for ``filterPairs`` to drop (no "I am"/"he is"... prefix, too long)."""
    subjects = [("I'm", "Je suis"), ("He is", "Il est"), ("She's", "Elle est"),
                ("You are", "Vous êtes"), ("We're", "Nous sommes"), ("They are", "Ils sont")]
    states = [("cold", "froid"), ("tired", "fatigué"), ("happy", "heureux"),
              ("ready", "prêt"), ("very old", "très vieux")]
    lines = [f"{se} {ae}.\t{sf} {af}." for se, sf in subjects for ae, af in states]
    lines += [f"{se} not {ae}!\t{sf.replace('Je ', 'Je ne ')} pas {af} !"
              for se, sf in subjects[:2] for ae, af in states[:3]]
    lines += ["Go.\tVa !", "Who?\tQui ?", "Thank you very much.\tMerci beaucoup.",
              "I am the one who knows where the old black cat sleeps.\t"
              "Je suis celui qui sait où dort le vieux chat noir."]
    return lines


######################################################################
# We'll need a unique index per word to use as the inputs and targets of
# the networks later. To keep track of all this we will use a helper class
# called ``Lang`` which has word → index (``word2index``) and index → word
# (``index2word``) dictionaries, as well as a count of each word
# ``word2count`` to use to later replace rare words.
#

SOS_token = 0
EOS_token = 1


class Lang:
    def __init__(self, name):
        self.name = name
        self.word2index = {}
        self.word2count = {}
        self.index2word = {0: "SOS", 1: "EOS"}
        self.n_words = 2  # Count SOS and EOS

    def addSentence(self, sentence):
        for word in sentence.split(' '):
            self.addWord(word)

    def addWord(self, word):
        if word not in self.word2index:
            self.word2index[word] = self.n_words
            self.word2count[word] = 1
            self.index2word[self.n_words] = word
            self.n_words += 1
        else:
            self.word2count[word] += 1


######################################################################
# The files are all in Unicode, to simplify we will turn Unicode
# characters to ASCII, make everything lowercase, and trim most
# punctuation.
#

# Turn a Unicode string to plain ASCII, thanks to
# https://stackoverflow.com/a/518232/2809427
def unicodeToAscii(s):
    return ''.join(
        c for c in unicodedata.normalize('NFD', s)
        if unicodedata.category(c) != 'Mn'
    )

# Lowercase, trim, and remove non-letter characters


def normalizeString(s):
    s = unicodeToAscii(s.lower().strip())
    s = re.sub(r"([.!?])", r" \1", s)
    s = re.sub(r"[^a-zA-Z.!?]+", r" ", s)
    return s


######################################################################
# To read the data file we will split the file into lines, and then split
# lines into pairs. The files are all English → Other Language, so if we
# want to translate from Other Language → English I added the ``reverse``
# flag to reverse the pairs.
#

def readLangs(lang1, lang2, reverse=False):
    print("Reading lines...")

    # Read the file and split into lines
    # (port: the lines of the corpus made in code, instead of
    #  open('data/%s-%s.txt' % (lang1, lang2), encoding='utf-8').read().strip().split('\n'))
    lines = eng_fra_lines()

    # Split every line into pairs and normalize
    pairs = [[normalizeString(s) for s in l.split('\t')] for l in lines]

    # Reverse pairs, make Lang instances
    if reverse:
        pairs = [list(reversed(p)) for p in pairs]
        input_lang = Lang(lang2)
        output_lang = Lang(lang1)
    else:
        input_lang = Lang(lang1)
        output_lang = Lang(lang2)

    return input_lang, output_lang, pairs


######################################################################
# Since there are a *lot* of example sentences and we want to train
# something quickly, we'll trim the data set to only relatively short and
# simple sentences. Here the maximum length is 10 words (that includes
# ending punctuation) and we're filtering to sentences that translate to
# the form "I am" or "He is" etc. (accounting for apostrophes replaced
# earlier).
#

MAX_LENGTH = 10

eng_prefixes = (
    "i am ", "i m ",
    "he is", "he s ",
    "she is", "she s ",
    "you are", "you re ",
    "we are", "we re ",
    "they are", "they re "
)


def filterPair(p):
    return len(p[0].split(' ')) < MAX_LENGTH and \
        len(p[1].split(' ')) < MAX_LENGTH and \
        p[1].startswith(eng_prefixes)


def filterPairs(pairs):
    return [pair for pair in pairs if filterPair(pair)]


######################################################################
# The full process for preparing the data is:
#
# -  Read text file and split into lines, split lines into pairs
# -  Normalize text, filter by length and content
# -  Make word lists from sentences in pairs
#

def prepareData(lang1, lang2, reverse=False):
    input_lang, output_lang, pairs = readLangs(lang1, lang2, reverse)
    print("Read %s sentence pairs" % len(pairs))
    pairs = filterPairs(pairs)
    print("Trimmed to %s sentence pairs" % len(pairs))
    print("Counting words...")
    for pair in pairs:
        input_lang.addSentence(pair[0])
        output_lang.addSentence(pair[1])
    print("Counted words:")
    print(input_lang.name, input_lang.n_words)
    print(output_lang.name, output_lang.n_words)
    return input_lang, output_lang, pairs


input_lang, output_lang, pairs = prepareData('eng', 'fra', True)


######################################################################
# The Encoder
# -----------
#
# The encoder of a seq2seq network is a RNN that outputs some value for
# every word from the input sentence. For every input word the encoder
# outputs a vector and a hidden state, and uses the hidden state for the
# next input word.
#

class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(EncoderRNN, self).__init__()
        self.hidden_size = hidden_size

        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size)

    def forward(self, input, hidden):
        embedded = self.embedding(input).view(1, 1, -1)
        output = embedded
        output, hidden = self.gru(output, hidden)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, 1, self.hidden_size, device=device)


######################################################################
# Simple Decoder
# ^^^^^^^^^^^^^^
#
# In the simplest seq2seq decoder we use only last output of the encoder.
#

class DecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size):
        super(DecoderRNN, self).__init__()
        self.hidden_size = hidden_size

        self.embedding = nn.Embedding(output_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        output = self.embedding(input).view(1, 1, -1)
        output = F.relu(output)
        output, hidden = self.gru(output, hidden)
        output = self.softmax(self.out(output[0]))
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, 1, self.hidden_size, device=device)


######################################################################
# Attention Decoder
# ^^^^^^^^^^^^^^^^^
#
# Calculating the attention weights is done with another feed-forward
# layer ``attn``, using the decoder's input and hidden state as inputs.
#

class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.1, max_length=MAX_LENGTH):
        super(AttnDecoderRNN, self).__init__()
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.dropout_p = dropout_p
        self.max_length = max_length

        self.embedding = nn.Embedding(self.output_size, self.hidden_size)
        self.attn = nn.Linear(self.hidden_size * 2, self.max_length)
        self.attn_combine = nn.Linear(self.hidden_size * 2, self.hidden_size)
        self.dropout = nn.Dropout(self.dropout_p)
        self.gru = nn.GRU(self.hidden_size, self.hidden_size)
        self.out = nn.Linear(self.hidden_size, self.output_size)

    def forward(self, input, hidden, encoder_outputs):
        embedded = self.embedding(input).view(1, 1, -1)
        embedded = self.dropout(embedded)

        attn_weights = F.softmax(
            self.attn(torch.cat((embedded[0], hidden[0]), 1)), dim=1)
        attn_applied = torch.bmm(attn_weights.unsqueeze(0),
                                 encoder_outputs.unsqueeze(0))

        output = torch.cat((embedded[0], attn_applied[0]), 1)
        output = self.attn_combine(output).unsqueeze(0)

        output = F.relu(output)
        output, hidden = self.gru(output, hidden)

        output = F.log_softmax(self.out(output[0]), dim=1)
        return output, hidden, attn_weights

    def initHidden(self):
        return torch.zeros(1, 1, self.hidden_size, device=device)


######################################################################
# Preparing Training Data
# -----------------------
#

def indexesFromSentence(lang, sentence):
    return [lang.word2index[word] for word in sentence.split(' ')]


def tensorFromSentence(lang, sentence):
    indexes = indexesFromSentence(lang, sentence)
    indexes.append(EOS_token)
    return torch.tensor(indexes, dtype=torch.long, device=device).view(-1, 1)


def tensorsFromPair(pair):
    input_tensor = tensorFromSentence(input_lang, pair[0])
    target_tensor = tensorFromSentence(output_lang, pair[1])
    return (input_tensor, target_tensor)


######################################################################
# Training the Model
# ------------------
#

teacher_forcing_ratio = 0.5


def train(input_tensor, target_tensor, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion, max_length=MAX_LENGTH):
    encoder_hidden = encoder.initHidden()

    encoder_optimizer.zero_grad()
    decoder_optimizer.zero_grad()

    input_length = input_tensor.size(0)
    target_length = target_tensor.size(0)

    encoder_outputs = torch.zeros(max_length, encoder.hidden_size, device=device)

    loss = 0

    for ei in range(input_length):
        encoder_output, encoder_hidden = encoder(
            input_tensor[ei], encoder_hidden)
        encoder_outputs[ei] = encoder_output[0, 0]

    decoder_input = torch.tensor([[SOS_token]], device=device)

    decoder_hidden = encoder_hidden

    use_teacher_forcing = True if random.random() < teacher_forcing_ratio else False

    if use_teacher_forcing:
        # Teacher forcing: Feed the target as the next input
        for di in range(target_length):
            decoder_output, decoder_hidden, decoder_attention = decoder(
                decoder_input, decoder_hidden, encoder_outputs)
            loss += criterion(decoder_output, target_tensor[di])
            decoder_input = target_tensor[di]  # Teacher forcing

    else:
        # Without teacher forcing: use its own predictions as the next input
        for di in range(target_length):
            decoder_output, decoder_hidden, decoder_attention = decoder(
                decoder_input, decoder_hidden, encoder_outputs)
            topv, topi = decoder_output.topk(1)
            decoder_input = topi.squeeze().detach()  # detach from history as input

            loss += criterion(decoder_output, target_tensor[di])
            if decoder_input.item() == EOS_token:
                break

    loss.backward()

    encoder_optimizer.step()
    decoder_optimizer.step()

    return loss.item() / target_length


######################################################################
# The whole training process looks like this:
#
# -  Initialize optimizers and criterion
# -  Create set of training pairs
# -  Start empty losses array
#
# (port: the progress prints, their timer and the plot are dropped; every
#  iteration's loss is collected in ``losses`` and returned.)

def trainIters(encoder, decoder, n_iters, print_every=1000, plot_every=100, learning_rate=0.01):
    losses = []
    plot_losses = []
    print_loss_total = 0  # Reset every print_every
    plot_loss_total = 0  # Reset every plot_every

    encoder_optimizer = optim.SGD(encoder.parameters(), lr=learning_rate)
    decoder_optimizer = optim.SGD(decoder.parameters(), lr=learning_rate)
    training_pairs = [tensorsFromPair(random.choice(pairs))
                      for i in range(n_iters)]
    criterion = nn.NLLLoss()

    for iter in range(1, n_iters + 1):
        training_pair = training_pairs[iter - 1]
        input_tensor = training_pair[0]
        target_tensor = training_pair[1]

        loss = train(input_tensor, target_tensor, encoder,
                     decoder, encoder_optimizer, decoder_optimizer, criterion)
        losses.append(loss)
        print_loss_total += loss
        plot_loss_total += loss

        if iter % print_every == 0:
            print_loss_avg = print_loss_total / print_every
            print_loss_total = 0

        if iter % plot_every == 0:
            plot_loss_avg = plot_loss_total / plot_every
            plot_losses.append(plot_loss_avg)
            plot_loss_total = 0

    return losses


######################################################################
# Evaluation
# ==========
#

def evaluate(encoder, decoder, sentence, max_length=MAX_LENGTH):
    with torch.no_grad():
        input_tensor = tensorFromSentence(input_lang, sentence)
        input_length = input_tensor.size()[0]
        encoder_hidden = encoder.initHidden()

        encoder_outputs = torch.zeros(max_length, encoder.hidden_size, device=device)

        for ei in range(input_length):
            encoder_output, encoder_hidden = encoder(input_tensor[ei],
                                                     encoder_hidden)
            encoder_outputs[ei] += encoder_output[0, 0]

        decoder_input = torch.tensor([[SOS_token]], device=device)  # SOS

        decoder_hidden = encoder_hidden

        decoded_words = []
        decoder_attentions = torch.zeros(max_length, max_length)

        for di in range(max_length):
            decoder_output, decoder_hidden, decoder_attention = decoder(
                decoder_input, decoder_hidden, encoder_outputs)
            decoder_attentions[di] = decoder_attention.data
            topv, topi = decoder_output.data.topk(1)
            if topi.item() == EOS_token:
                decoded_words.append('<EOS>')
                break
            else:
                decoded_words.append(output_lang.index2word[topi.item()])

            decoder_input = topi.squeeze().detach()

        return decoded_words, decoder_attentions[:di + 1]


######################################################################
# We can evaluate random sentences from the training set
# (port: the triples are returned instead of printed).

def evaluateRandomly(encoder, decoder, n=10):
    triples = []
    for i in range(n):
        pair = random.choice(pairs)
        output_words, attentions = evaluate(encoder, decoder, pair[0])
        output_sentence = ' '.join(output_words)
        triples.append((pair[0], pair[1], output_sentence))
    return triples


######################################################################
# Training and Evaluating
# =======================
#

def main(n_iters=300, init=None, seed=0, hidden_size=16, dropout_p=0.1, learning_rate=0.01):
    """The tutorial's script (``hidden_size = 256``, 75000 iterations there). Returns
    (losses of every iteration, ``evaluateRandomly``'s triples, ``evaluate``'s words and attentions
    for the first pair, the initial state dicts ``{"encoder": ..., "decoder": ...}`` as NumPy arrays)."""
    random.seed(seed)
    torch.manual_seed(seed)
    encoder1 = EncoderRNN(input_lang.n_words, hidden_size).to(device)
    attn_decoder1 = AttnDecoderRNN(hidden_size, output_lang.n_words, dropout_p=dropout_p).to(device)
    if init is not None:
        encoder1.load_state_dict(init["encoder"])
        attn_decoder1.load_state_dict(init["decoder"])
    start = {name: {k: v.detach().cpu().numpy().copy() for k, v in m.state_dict().items()}
             for name, m in (("encoder", encoder1), ("decoder", attn_decoder1))}

    losses = trainIters(encoder1, attn_decoder1, n_iters, print_every=5000, learning_rate=learning_rate)

    triples = evaluateRandomly(encoder1, attn_decoder1)

    output_words, attentions = evaluate(
        encoder1, attn_decoder1, pairs[0][0])
    return losses, triples, (output_words, attentions.numpy()), start
