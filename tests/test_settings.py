"""model/settings.py: one reader of a conv's and a pooling layer's settings, Keras 1 to 3 spellings."""

import pytest

from k2p_keras.errors import K2PError
from k2p_keras.model.settings import conv_settings, pool_settings


def entry(class_name, **config):
    return {"class_name": class_name, "config": {"name": "layer", **config}}


CONV1D = {"kernel_size": 9, "strides": 2, "dilation_rate": 3, "groups": 1, "filters": 16, "padding": "same",
          "channels_first": False, "use_bias": False}


@pytest.mark.parametrize("config", [
    # Keras 3
    dict(filters=16, kernel_size=[9], strides=[2], dilation_rate=[3], padding="same", use_bias=False),
    # Keras 2
    dict(filters=16, kernel_size=(9,), strides=(2,), dilation_rate=(3,), padding="same", use_bias=False,
         data_format="channels_last"),
    # Keras 1 Convolution1D / AtrousConvolution1D
    dict(nb_filter=16, filter_length=9, subsample_length=2, atrous_rate=3, border_mode="same", bias=False),
], ids=["keras3", "keras2", "keras1"])
def test_conv1d_settings_in_every_spelling(config):
    assert conv_settings(entry("Conv1D", **config), "layer") == CONV1D


@pytest.mark.parametrize("config, channels_first", [
    (dict(filters=8, kernel_size=[4, 11], strides=[1, 2], padding="valid", data_format="channels_last"), False),
    (dict(nb_filter=8, nb_row=4, nb_col=11, subsample=[1, 2], border_mode="valid", dim_ordering="tf"), False),
    (dict(nb_filter=8, nb_row=4, nb_col=11, subsample=[1, 2], border_mode="valid", dim_ordering="th"), True),
], ids=["keras2", "keras1-tf", "keras1-th"])
def test_conv2d_settings_are_the_width_s(config, channels_first):
    settings = conv_settings(entry("Conv2D", **config), "layer", rank=2)
    assert settings == {"kernel_size": 11, "strides": 2, "dilation_rate": 1, "groups": 1, "filters": 8,
                        "padding": "valid", "channels_first": channels_first, "use_bias": True,
                        "height_steps": (1, 1)}


@pytest.mark.parametrize("config, words", [
    (dict(kernel_size="nine"), "unreadable settings"),
    (dict(kernel_size=[3, 3]), "unreadable settings"),
    (dict(kernel_size=3, padding="full"), "padding 'full', expected valid or same or causal"),
    (dict(kernel_size=3, strides=0), "expected positive integers"),
    (dict(kernel_size=3, dim_ordering="xy"), "unreadable settings"),
])
def test_conv_settings_refused_in_one_line(config, words):
    with pytest.raises(K2PError, match=words):
        conv_settings(entry("Conv1D", **config), "layer")


def test_conv2d_knows_no_causal_padding():
    with pytest.raises(K2PError, match="expected valid or same"):
        conv_settings(entry("Conv2D", kernel_size=[4, 3], padding="causal"), "layer", rank=2)


@pytest.mark.parametrize("config, expected", [
    (dict(pool_size=[3], strides=None, padding="valid"), (3, 3, "valid", False)),
    (dict(pool_size=3, strides=1, padding="same", data_format="channels_first"), (3, 1, "same", True)),
    # Keras 1 MaxPooling1D: pool_length, stride (None: the pool length), border_mode
    (dict(pool_length=4, stride=None, border_mode="valid"), (4, 4, "valid", False)),
    (dict(pool_length=4, stride=2, border_mode="same"), (4, 2, "same", False)),
])
def test_pool1d_settings_in_every_spelling(config, expected):
    settings = pool_settings(entry("MaxPooling1D", **config))
    assert (settings["pool_size"], settings["strides"], settings["padding"], settings["channels_first"]) == expected


def test_keras1_pool2d_settings():
    """Keras 1.2 AveragePooling2D as the DeepLIFT file stores it (pool over the width, strides (1, 1))."""
    settings = pool_settings(entry("AveragePooling2D", pool_size=[1, 180], strides=[1, 1], border_mode="valid",
                                   dim_ordering="th"), rank=2)
    assert settings == {"pool_size": 180, "strides": 1, "padding": "valid", "channels_first": True,
                        "height_pool": (1, 1)}
