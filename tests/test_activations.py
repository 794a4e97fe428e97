"""One activation table: each function and inverse checked against Keras's own activations.

``f(conv + bias) > t`` must hold exactly when ``conv + bias > preactivation_threshold(f, t)``;
the reference is ``keras.activations.get(name)`` evaluated on a grid, not our own code.
"""
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from k2p_keras.model.activations import ACTIVATIONS, activation_forward, activation_output, activation_rule  # noqa: E402
from k2p_keras.errors import K2PError  # noqa: E402
from k2p_keras.model.after_conv import normalize_activation  # noqa: E402
from k2p_keras.model.activations import preactivation_threshold  # noqa: E402

GRID = np.linspace(-8.0, 8.0, 4001)
MONOTONE = sorted(name for name, rule in ACTIVATIONS.items() if rule.monotone)
# Inputs whose outputs make the thresholds tried for each activation.
PROBES = [-3.0, -1.0, -0.6, -0.25, 0.0, 0.3, 0.5, 0.75, 1.0, 2.5]


def keras_output(name, x):
    return np.asarray(keras.ops.convert_to_numpy(keras.activations.get(name)(x)), dtype=np.float64)


def keras_names():
    """Every activation name Keras can resolve from a string alone."""
    from keras.src.activations import ALL_OBJECTS_DICT

    # threshold(x, threshold, default_value) has no defaults: no layer can name it alone.
    return sorted(name for name in ALL_OBJECTS_DICT if name != "threshold")


@pytest.mark.parametrize("name", MONOTONE)
def test_each_function_is_keras_own(name):
    rule = activation_rule(name)
    x = GRID[GRID >= 0] if rule.positive_part_only else GRID
    expected = keras_output(name, x)
    np.testing.assert_allclose(activation_output(name, x), expected, rtol=2e-6, atol=2e-6)
    assert np.all(np.diff(expected) >= -1e-6), "Keras's function decreases somewhere"
    assert expected.min() >= rule.low - 1e-6 and expected.max() <= rule.high + 1e-6


@pytest.mark.parametrize("name", MONOTONE)
def test_each_inverse_splits_keras_outputs_at_the_threshold(name):
    rule = activation_rule(name)
    y = keras_output(name, GRID)
    thresholds = {float(t) for t in keras_output(name, np.array(PROBES))}
    if math.isfinite(rule.low):
        thresholds |= {rule.low, rule.low - 0.5}
    if math.isfinite(rule.high):
        thresholds |= {rule.high, rule.high + 0.5}
    if rule.positive_part_only:
        thresholds = {t for t in thresholds if t >= 0}
    for t in sorted(thresholds):
        cut = preactivation_threshold(name, t)
        # Points within float32 rounding of the cut could fall either way.
        clear = np.abs(GRID - cut) > 1e-4 if math.isfinite(cut) else np.ones(GRID.shape, bool)
        np.testing.assert_array_equal((y > t)[clear], (GRID > cut)[clear],
                                      err_msg=f"{name}: output > {t} versus input > {cut}")


def test_every_activation_keras_names_is_in_the_table_and_both_paths_agree():
    for name in keras_names():
        rule = activation_rule(name)
        assert rule is not None, f"{name} is missing from the table"
        exact_ok = normalize_activation(name).problem is None
        assert exact_ok == rule.monotone, name
        if exact_ok:
            preactivation_threshold(name, 0.0 if rule.low < 0 or rule.low_attained else rule.low + 0.1)
        else:
            with pytest.raises(K2PError, match="non-decreasing"):
                preactivation_threshold(name, 0.0)


@pytest.mark.parametrize("name", ["gelu", "swish", "silu", "mish", "hard_swish", "hard_silu"])
def test_refused_elementwise_activations_do_decrease_somewhere(name):
    assert np.any(np.diff(keras_output(name, GRID)) < -1e-4)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sparsemax", "glu"])
def test_refused_axis_activations_are_not_per_filter_maps(name):
    # Raising one filter's output lowers (or moves) another's: no per-unit order survives.
    x = np.array([[0.5, 0.2, -0.1, 0.3]])
    bumped = x.copy()
    bumped[0, 2] += 1.0  # glu gates unit 0 with unit 2
    assert not np.allclose(keras_output(name, x)[0, 0], keras_output(name, bumped)[0, 0])


def test_aliases_of_linear_and_negative_part_parameters():
    for alias in (None, "", "identity"):
        assert activation_rule(alias).name == "linear"
        assert normalize_activation(alias).name == "linear"
    for name in ("leaky_relu", "elu"):
        with pytest.raises(K2PError, match=">= 0"):
            preactivation_threshold(name, -0.1)
    assert preactivation_threshold("relu", 0.5, active_threshold=2.0) == 2.0
    assert normalize_activation("no_such_thing").problem.startswith("activation 'no_such_thing' is unknown")


def test_the_diagnostics_activation_is_the_activation_output_or_none_when_not_monotone():
    x = np.array([-1.0, 0.2, 0.7, 8.0])
    np.testing.assert_array_equal(activation_forward("relu")(x), [0.0, 0.2, 0.7, 8.0])
    np.testing.assert_array_equal(activation_forward("relu", 0.5)(x), [0.0, 0.0, 0.7, 8.0])
    np.testing.assert_allclose(activation_forward("sigmoid")(x), 1 / (1 + np.exp(-x)))
    assert activation_forward("gelu") is None and activation_forward("no_such_activation") is None
