"""``python -m lstm_edu.bench``: the benchmark's command line."""

from . import main

main()
