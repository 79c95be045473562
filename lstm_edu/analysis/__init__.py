"""Looking inside trained models: gradients through time (:mod:`.gradients`), recorded LSTM
activations (:mod:`.activations`) and HyperLSTM traces (:mod:`.hyper_inspect`). Functions here
return tensors; drawing and HTML live in :mod:`lstm_edu.display`."""
