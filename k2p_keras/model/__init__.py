"""Stage 1, the model: a saved or live Keras model read (never run) down to its motif convolution.

The module map: docs/ARCHITECTURE.md.
"""
