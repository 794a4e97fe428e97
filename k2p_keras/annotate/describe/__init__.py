"""The filters in figures: what their best windows say about the sequences (:mod:`.diagnostics`), and
the verdicts of a match and of the whole first layer (:mod:`.layer`).

The module map: docs/ARCHITECTURE.md.
"""
