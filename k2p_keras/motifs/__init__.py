"""Stage 3, the motifs: from the scan's sums to PWM sets.

- :mod:`.sites`: which best windows count as the motif's sites;
- :mod:`.mle`: the base of the logarithm by maximum likelihood (Newton's method);
- :mod:`.exact`: exact PWMs (k2p's transformation at the estimated base);
- :mod:`.heuristic`: DeepBind's heuristic PWMs (letters of the most activating windows);
- :mod:`.motifset`: what both kinds of PWM set share (names, MEME motifs, summary rows).
"""
