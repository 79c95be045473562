"""Training and data: corpora and batches (:mod:`.data`, :mod:`.corpora`), the training loops, the
character model and checkpoints (:mod:`.train`), a cache of trained runs (:mod:`.runcache`), the
Kneser–Ney n-gram baseline (:mod:`.ngram`) and the book's character-model recipe
(:mod:`.recipes`)."""
