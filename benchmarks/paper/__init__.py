"""Reproduce the paper's claims (Ding et al., bioRxiv 163220) on simulated data.

For each JASPAR motif: plant sites in random sequences, train the paper's model
(Conv1D -> ReLU -> global max-pool -> Dense sigmoid) with Keras, turn its filters into
PWMs three ways (exact with a per-filter MLE base, exact with one shared base, the
DeepBind heuristic) and measure, on held-out sequences, how well each PWM set
classifies, reproduces the model's output, and recovers the planted motif.

    python -m benchmarks.paper --quick            # 3 motifs, a few minutes
    python -m benchmarks.paper --n-motifs 60      # the full run

The modules follow the data: ``simulate`` (sequences) -> ``model`` (Keras) ->
``pwm_sets`` (the three PWM sets) -> ``metrics`` -> ``report``; ``run`` ties them together.
"""
