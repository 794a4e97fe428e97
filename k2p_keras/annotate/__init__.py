"""Stage 4, for people: what the filters mean, in five parts named for what they do.

- :mod:`.run`: runs the model (each filter's influence);
- :mod:`.match`: the PWMs against a motif database (Tomtom, JASPAR);
- :mod:`.group`: the filters that learned the same motif (clusters, archetypes);
- :mod:`.describe`: the filters in figures (diagnostics from their best windows; the layer's verdict);
- :mod:`.draw`: logos and the HTML reports.

docs/ARCHITECTURE.md is the module map: what each module holds and where each rule lives.
"""
