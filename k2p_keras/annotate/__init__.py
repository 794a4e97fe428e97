"""Stage 4, for people: known motifs (Tomtom against JASPAR), which filters matter and which are
redundant, logos and the HTML report.

- :mod:`.tomtom`: motifs against a database (memelite's Tomtom, pyjaspar's JASPAR);
- :mod:`.influence`: each filter's influence on the model's outputs (Basset's nullification; runs the model);
- :mod:`.clusters`: redundancy clusters of a model's own PWMs (Tomtom between them) and their archetypes;
- :mod:`.logos`: information-content sequence logos (matplotlib);
- :mod:`.report`: one self-contained HTML report.
"""
