"""Training-step benchmark: ``python -m lstm_edu.bench`` (``--help`` for the options).

One run times a training step (forward + backward of ``out.sum()``) of ``torch.nn.LSTM``, the
reference :class:`lstm_edu.LSTM` and :class:`lstm_edu.HyperLSTM`, and
:class:`lstm_edu.fast.FastLSTM` and :class:`lstm_edu.fast.FastHyperLSTM`, on the CPU and, when
one is present, on the GPU, and prints them side by side with the ratios this package aims for:

- FastLSTM / torch.nn.LSTM (CPU: at most 1.15; GPU, where nn.LSTM is cuDNN: at most 1.5);
- LSTM (reference) / torch.nn.LSTM (reported);
- FastHyperLSTM / HyperLSTM (reference) (CPU: at most 0.4);
- FastHyperLSTM / torch.nn.LSTM (CPU: at most 2.2; GPU: at most 3);

and the peak memory of one training step at ``T = 2000``. It says which time loops the fast
layers ran (compiled or Python, :mod:`lstm_edu.fast.compiled`) and how long building or loading
the compiled ones took, apart from the step times.

One file per part: :mod:`.timing` (the models and interleaved timing: each ratio from its own
pair of models, timed in a fresh process, a step of each in turn for ``--repeats`` rounds after
a warm-up round, the ratio being the median over the rounds of the two times' ratio, so that
slow drift of a shared machine cancels; the table gives each model's median and spread
``(max - min) / median``),
:mod:`.profiling` (time inside matrix multiplies), :mod:`.memory` (peak memory, each model in a
fresh process) and :mod:`.cli` (the command line and the table).
"""

from dataclasses import asdict, replace

from .cli import RATIOS, devices, format_table, main, parse_args, run
from .memory import peak_memory, peak_memory_here
from .profiling import MATMULS, VIEWS, matmul_times, profile_step, split_profile
from .timing import (
    CPU_SIZES,
    GPU_SIZES,
    LABELS,
    MODELS,
    QUICK_SIZES,
    Sizes,
    build,
    summarize,
    sync,
    time_models,
    time_pairs,
    time_steps,
    training_step,
)

__all__ = ["MODELS", "LABELS", "RATIOS", "Sizes", "CPU_SIZES", "GPU_SIZES", "QUICK_SIZES", "build",
           "sync", "training_step", "time_steps", "summarize", "time_models", "time_pairs",
           "MATMULS", "VIEWS",
           "profile_step", "split_profile", "matmul_times", "peak_memory", "peak_memory_here",
           "devices", "run", "format_table", "parse_args", "main", "asdict", "replace"]
