"""Stage 1, the model: a saved or live Keras model read (never run) down to its motif convolution.

- :mod:`.files`: ``.h5`` / ``.keras`` files and folders, and architecture JSON + weights files,
  read with ``h5py``, ``zipfile``, ``json``;
- :mod:`.config`: a model config (Keras 1, 2, 3) as a graph of layer calls;
- :mod:`.settings`: a conv's and a pooling layer's settings, Keras 1 to 3 spellings;
- :mod:`.conv`: the motif conv found (:class:`~.conv.ConvSpec`: kernel, bias, settings);
- :mod:`.conv2d`: a Conv2D on one-hot DNA read as the Conv1D it computes;
- :mod:`.after_conv`: the layers after the conv, and whether the MLE's assumption holds;
- :mod:`.strands`: reverse-complement designs (both strands merged before the pool);
- :mod:`.activations`: the one table of activations (monotone or not, inverses).
"""
