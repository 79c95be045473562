"""Training and data: corpora and batches (:mod:`.data`), the training loops, the character
model and checkpoints (:mod:`.train`)."""
