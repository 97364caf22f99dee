"""pytorch/tutorials ``beginner_source/nlp/sequence_models_tutorial.py`` (an LSTM part-of-speech tagger),
ported by renaming the imports only.

The code is the tutorial's (the version that still writes ``autograd.Variable`` and
``torch.LongTensor``). Around it, for a test: the module-level script is wrapped in ``main``, the
prints collect their values, the epoch count is an argument, and ``init`` (a state dict) sets the
tagger's starting weights so that a run on PyTorch and one here start from the same point.
"""

import tinygrad_rnn as torch
import tinygrad_rnn.autograd as autograd
import tinygrad_rnn.nn as nn
import tinygrad_rnn.nn.functional as F
import tinygrad_rnn.optim as optim

ORIGINAL_IMPORTS = "import torch\nimport torch.autograd as autograd\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport torch.optim as optim\n"
RENAMED_IMPORTS = "import tinygrad_rnn as torch\nimport tinygrad_rnn.autograd as autograd\nimport tinygrad_rnn.nn as nn\nimport tinygrad_rnn.nn.functional as F\nimport tinygrad_rnn.optim as optim\n"


def lstm_demo():
    torch.manual_seed(1)

    lstm = nn.LSTM(3, 3)  # Input dim is 3, output dim is 3
    inputs = [autograd.Variable(torch.randn((1, 3)))
              for _ in range(5)]  # make a sequence of length 5

    # initialize the hidden state.
    hidden = (autograd.Variable(torch.randn(1, 1, 3)),
              autograd.Variable(torch.randn((1, 1, 3))))
    for i in inputs:
        # Step through the sequence one element at a time.
        # after each step, hidden contains the hidden state.
        out, hidden = lstm(i.view(1, 1, -1), hidden)

    inputs = torch.cat(inputs).view(len(inputs), 1, -1)
    hidden = (autograd.Variable(torch.randn(1, 1, 3)), autograd.Variable(
        torch.randn((1, 1, 3))))  # clean out hidden state
    out, hidden = lstm(inputs, hidden)
    return out, hidden


def prepare_sequence(seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    tensor = torch.LongTensor(idxs)
    return autograd.Variable(tensor)


training_data = [
    ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Everybody read that book".split(), ["NN", "V", "DET", "NN"])
]
word_to_ix = {}
for sent, tags in training_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
tag_to_ix = {"DET": 0, "NN": 1, "V": 2}

# These will usually be more like 32 or 64 dimensional.
# We will keep them small, so we can see how the weights change as we train.
EMBEDDING_DIM = 6
HIDDEN_DIM = 6


class LSTMTagger(nn.Module):

    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super(LSTMTagger, self).__init__()
        self.hidden_dim = hidden_dim

        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)

        # The LSTM takes word embeddings as inputs, and outputs hidden states
        # with dimensionality hidden_dim.
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)

        # The linear layer that maps from hidden state space to tag space
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)
        self.hidden = self.init_hidden()

    def init_hidden(self):
        # Before we've done anything, we dont have any hidden state.
        # Refer to the Pytorch documentation to see exactly
        # why they have this dimensionality.
        # The axes semantics are (num_layers, minibatch_size, hidden_dim)
        return (autograd.Variable(torch.zeros(1, 1, self.hidden_dim)),
                autograd.Variable(torch.zeros(1, 1, self.hidden_dim)))

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, self.hidden = self.lstm(
            embeds.view(len(sentence), 1, -1), self.hidden)
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        tag_scores = F.log_softmax(tag_space, dim=1)
        return tag_scores


def main(epochs=300, init=None):
    """The tutorial's training script; returns (losses, tag scores after training, initial state dict)."""
    losses = []
    model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix))
    if init is not None:
        model.load_state_dict(init)
    start = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    loss_function = nn.NLLLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    # See what the scores are before training
    # Note that element i,j of the output is the score for tag j for word i.
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)

    for epoch in range(epochs):  # again, normally you would NOT do 300 epochs, it is toy data
        for sentence, tags in training_data:
            # Step 1. Remember that Pytorch accumulates gradients.
            # We need to clear them out before each instance
            model.zero_grad()

            # Also, we need to clear out the hidden state of the LSTM,
            # detaching it from its history on the last instance.
            model.hidden = model.init_hidden()

            # Step 2. Get our inputs ready for the network, that is, turn them into
            # Variables of word indices.
            sentence_in = prepare_sequence(sentence, word_to_ix)
            targets = prepare_sequence(tags, tag_to_ix)

            # Step 3. Run our forward pass.
            tag_scores = model(sentence_in)

            # Step 4. Compute the loss, gradients, and update the parameters by
            #  calling optimizer.step()
            loss = loss_function(tag_scores, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    # See what the scores are after training
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    return losses, tag_scores.detach().numpy(), start
