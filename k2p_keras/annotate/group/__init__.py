"""The filters that learned the same motif: clusters of a model's own PWMs and their archetypes
(:mod:`.clusters`).

The module map: docs/ARCHITECTURE.md.
"""
