"""The models: cells, the stack that runs them over time and layers, input checks, and the
conversion to and from PyTorch's modules. Nothing here imports training, analysis or display
code."""

from .hyper_lstm import HyperLSTM, HyperLSTMCell
from .lstm import GATE_NAMES, GATES, LSTM, LSTMCell
from .rnn import RNN, RNNCell
from .stack import StackedRNN

__all__ = ["GATES", "GATE_NAMES", "LSTM", "LSTMCell", "HyperLSTM", "HyperLSTMCell", "RNN",
           "RNNCell", "StackedRNN"]
