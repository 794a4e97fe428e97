"""Stage 4, for people: known motifs (Tomtom against JASPAR), which filters matter and which are
redundant, what their best windows say about the sequences, logos and the HTML reports.

- :mod:`.tomtom`: motifs against a database (memelite's Tomtom, pyjaspar's JASPAR);
- :mod:`.influence`: each filter's influence on the model's outputs (Basset's nullification; runs the model);
- :mod:`.clusters`: redundancy clusters of a model's own PWMs (Tomtom between them), one per learned motif, and
  their archetypes;
- :mod:`.layer`: the first layer as a whole: whole motifs, or partial ones (with the literature's advice);
- :mod:`.diagnostics`: each filter's best window per sequence, from the scan's sums: AUROC alone, mean
  activation per class, positions;
- :mod:`.logos`: information-content sequence logos (matplotlib);
- :mod:`.filters`: one filter as the reports show it (``FilterReport``), how strong its match is;
- :mod:`.html`: what the HTML reports share (style sheet, inlined images, bars, the page);
- :mod:`.report`: one self-contained HTML report of a model's filters;
- :mod:`.emergence`: motifs over training, from a PWMCallback folder, as one HTML report.
"""
