"""One motif at a time: simulate, train, extract the PWM sets, measure."""
import time
from dataclasses import dataclass, field, replace

from sklearn.metrics import roc_auc_score

from .metrics import (best_window_log_likelihood, classification, exact_reconstruction, fidelity,
                      heuristic_reconstruction, recovery)
from .model import ModelSettings, dense_weights, motif_conv_spec, predict, train_model
from k2p_keras.io.meme import Motif

from .pwm_sets import SET_NAMES, pwm_sets
from .simulate import simulate_dataset


@dataclass
class BenchmarkConfig:
    """Data and model sizes. ``kernel_length`` None: each motif's width plus ``kernel_extra``."""

    n_train: int = 2000
    n_test: int = 1000
    length: int = 100
    negatives: str = "random"
    seed: int = 0
    kernel_length: int = None
    kernel_extra: int = 4
    model: ModelSettings = field(default_factory=ModelSettings)

    def model_settings(self, motif):
        length = self.kernel_length or motif.width + self.kernel_extra
        return replace(self.model, kernel_length=min(length, self.length))


QUICK = {"n_train": 1000, "n_test": 500, "epochs": 10}


def run_motif(meme_file, motif, config):
    """Every measurement for one motif.

    Returns
    -------
    (dict, list of Motif)
        One row of the results table, and per PWM set the PWM of the filter that recovers the
        planted motif best, named ``<motif>__<set>`` (for a later database search).
    """
    started = time.perf_counter()
    data = simulate_dataset(meme_file, motif, n_train=config.n_train, n_test=config.n_test,
                            length=config.length, negatives=config.negatives, seed=config.seed)
    settings = config.model_settings(motif)
    model = train_model(data.x_train, data.y_train, settings, seed=config.seed)
    spec = motif_conv_spec(model)
    if not spec.pattern_ok:
        raise RuntimeError(f"k2p-keras does not see the paper's pattern: {spec.report()}")
    sets = pwm_sets(spec, data.x_train)
    pred_train, pred_test = predict(model, data.x_train), predict(model, data.x_test)
    dense_kernel, dense_bias = dense_weights(model)
    row = {
        "motif": motif.name, "name": motif.alt_name or "", "width": motif.width,
        "decoy": "" if data.decoy is None else f"{data.decoy.name} {data.decoy.alt_name or ''}".strip(),
        "kernel_length": settings.kernel_length,
        "model_auroc": roc_auc_score(data.y_test, pred_test),
        "ln_b_shared": float(sets["exact_shared"].ln_base[0]),
        "ln_b_per_filter_min": float(sets["exact_per_filter"].ln_base.min()),
        "ln_b_per_filter_max": float(sets["exact_per_filter"].ln_base.max()),
        # The spread of ln b between filters the shrunk estimator assumed (strong sites).
        "tau_strong": float(sets["exact_strong_shrunk"].tau),
        "base_warnings": sum(s.n_warnings for s in sets.values() if s.exact),
        "heuristic_warnings": sets["heuristic"].n_warnings,
    }
    best_filters = []
    for name in SET_NAMES:
        pwm_set = sets[name]
        ll_train = best_window_log_likelihood(pwm_set.pwms, data.x_train)
        ll_test = best_window_log_likelihood(pwm_set.pwms, data.x_test)
        scores = classification(ll_train, data.y_train, ll_test, data.y_test)
        if pwm_set.exact:
            rebuilt = exact_reconstruction(ll_test, pwm_set.ln_base, pwm_set.constants, dense_kernel, dense_bias)
        else:
            rebuilt = heuristic_reconstruction(ll_train, pred_train, ll_test, settings.kernel_length)
        scores.update(fidelity(rebuilt, pred_test))
        scores["recovery"], scores["recovery_distance"], best = recovery(pwm_set.pwms, motif.pwm)
        if pwm_set.exact:
            # The base of the filter that recovers the motif: how sharp that PWM is.
            scores["ln_b_best_filter"] = float(pwm_set.ln_base[best])
        row.update({f"{key}_{name}": value for key, value in scores.items()})
        best_filters.append(Motif(name=f"{motif.name}__{name}", pwm=pwm_set.pwms[best], alt_name=motif.alt_name))
    row["seconds"] = time.perf_counter() - started
    return row, best_filters
