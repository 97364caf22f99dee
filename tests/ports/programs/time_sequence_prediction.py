"""pytorch/examples ``time_sequence_prediction/train.py`` (two LSTMCells predicting sine waves, LBFGS),
ported by renaming the imports only.

The model class and the training step are the original's. Around them, for a test: the data of
``generate_sine_wave.py`` is made in code (it was a ``torch.save``d file), the run is shorter (``steps``
and ``future`` are arguments), the plots are dropped, and ``init`` (a state dict) sets the starting
weights so that a run on PyTorch and one here start from the same point. The original import lines
are kept in ``ORIGINAL_IMPORTS`` for the side-by-side run.
"""

import numpy as np

import tinygrad_rnn as torch
import tinygrad_rnn.nn as nn
import tinygrad_rnn.optim as optim

ORIGINAL_IMPORTS = "import torch\nimport torch.nn as nn\nimport torch.optim as optim\n"
RENAMED_IMPORTS = "import tinygrad_rnn as torch\nimport tinygrad_rnn.nn as nn\nimport tinygrad_rnn.optim as optim\n"


class Sequence(nn.Module):
    def __init__(self):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, input, future = 0):
        outputs = []
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):# if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


def sine_waves(T=20, L=100, N=10):
    """generate_sine_wave.py's data, made here instead of loaded."""
    np.random.seed(2)
    x = np.empty((N, L), "int64")
    x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
    return np.sin(x / 1.0 / T).astype("float64")


def main(steps=2, future=20, init=None):
    """The original ``__main__`` block; returns (training losses, test losses, initial state dict)."""
    losses, test_losses = [], []
    np.random.seed(0)
    torch.manual_seed(0)
    data = sine_waves()
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])
    # build the model
    seq = Sequence()
    seq.double()
    if init is not None:
        seq.load_state_dict(init)
    start = {k: v.detach().numpy().copy() for k, v in seq.state_dict().items()}
    criterion = nn.MSELoss()
    # use LBFGS as optimizer since we can load the whole data to train
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    # begin to train
    for i in range(steps):

        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            losses.append(loss.item())
            loss.backward()
            return loss

        optimizer.step(closure)
        # begin to predict, no need to track gradient here
        with torch.no_grad():
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            test_losses.append(loss.item())
            y = pred.detach().numpy()
            assert y.shape == (3, 99 + future)
    return losses, test_losses, start
