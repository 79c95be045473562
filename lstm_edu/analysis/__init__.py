"""Looking inside models: gradients through time (:mod:`.gradients`), recorded LSTM activations
(:mod:`.activations`), HyperLSTM traces (:mod:`.hyper_inspect`) and what a dynamic weight costs
(:mod:`.matvec_costs`). Functions here return numbers and tensors; drawing and HTML live in
:mod:`lstm_edu.display`, counting and timing helpers in :mod:`lstm_edu.measure`."""
