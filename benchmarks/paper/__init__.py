"""Reproduce the paper's claims (Ding et al., bioRxiv 163220) on simulated data.

For each JASPAR motif: plant sites in random sequences, train the paper's model
(Conv1D -> ReLU -> global max-pool -> Dense sigmoid) with Keras, turn its filters into
PWM sets (exact, with the base estimated from each choice of sites of k2p_keras.motifs.sites,
one shared base or one per filter; the DeepBind heuristic) and measure, on held-out
sequences, how well each PWM set classifies, reproduces the model's output, and recovers
the planted motif; each set's best filter per motif is saved to a MEME file.

    python -m benchmarks.paper --quick            # 3 motifs, a few minutes
    python -m benchmarks.paper                    # the full run (150 motifs)

The modules follow the data: ``simulate`` (sequences) -> ``model`` (Keras) ->
``pwm_sets`` (the PWM sets) -> ``metrics`` -> ``report``; ``run`` ties them together.
"""
