"""What runs the model: each filter's influence (:mod:`.influence`) and where the model is cut and
how it is fed (:mod:`.model_split`). TensorFlow and Keras load when a model is run.

The module map: docs/ARCHITECTURE.md.
"""
