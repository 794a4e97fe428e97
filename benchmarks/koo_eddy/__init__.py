"""Koo & Eddy (2019)'s planted-motif recovery benchmark, rebuilt from the paper's description.

    python -m benchmarks.koo_eddy train      # data and the 9 models (cached outside the repo)
    python -m benchmarks.koo_eddy evaluate   # the cached models' PWM sets -> results/koo_eddy.md, .csv
    python -m benchmarks.koo_eddy run        # both
    python -m benchmarks.koo_eddy run --quick --cache DIR   # a tiny smoke run (tests)

Modules: ``data`` (the grammars), ``model`` (CNN-N and its training, every epoch kept),
``pwm_sets`` (every base estimator of the library, our heuristics, Koo's), ``scoring`` (Tomtom
statistics, the library's clusters), ``evaluate`` (the snapshots and their rows), ``report``
(CSV and markdown), ``__main__`` (the commands). ``evaluate`` reads the cached models only
(minutes; it names those not trained yet); ``--merge`` adds models to an earlier table.
"""
