"""lstm_edu: from-scratch PyTorch reference implementations of the LSTM and the HyperLSTM.

The modules the book derives, runs and trains. ``LSTMCell``/``LSTM`` and
``HyperLSTMCell``/``HyperLSTM`` are the readable references; ``lstm_edu.fast`` holds drop-in
versions with the same parameters and results that run much faster.
"""

from importlib.metadata import PackageNotFoundError, version

from . import settings
from .models.hyper_lstm import HyperLSTM, HyperLSTMCell
from .models.hypernet import (
    explicit_matvec,
    explicit_weight,
    row_scaling_matvec,
    weight_tensor_from_row_scaling,
)
from .models.lstm import LSTM, LSTMCell

try:
    __version__ = version("lstm_edu")  # written once, in pyproject.toml
except PackageNotFoundError:  # imported from a checkout that is not installed (PYTHONPATH)
    __version__ = "unknown"

__all__ = [
    "LSTM",
    "LSTMCell",
    "HyperLSTM",
    "HyperLSTMCell",
    "explicit_weight",
    "explicit_matvec",
    "row_scaling_matvec",
    "weight_tensor_from_row_scaling",
    "settings",
]
