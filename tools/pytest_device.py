"""pytest plugin: run the tests with torch's default device set to ``$LSTM_EDU_TEST_DEVICE``.

``python -m pytest -p pytest_device tests/test_fast.py`` with ``tools/`` on ``PYTHONPATH`` and
``LSTM_EDU_TEST_DEVICE=cuda`` builds every model and tensor of the tests on the GPU (the tests
create them with torch's factory functions, which follow the default device). TF32 is switched off,
so float32 matrix multiplies on the GPU round like the CPU's. Used by ``tools/gpu_check.py``.
"""

import os

import torch


def pytest_configure(config):
    device = os.environ.get("LSTM_EDU_TEST_DEVICE")
    if device:
        torch.set_default_device(device)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def pytest_report_header(config):
    return f"lstm_edu test device: {os.environ.get('LSTM_EDU_TEST_DEVICE') or 'cpu (default)'}"
