"""numba's compiled kernels are cached in a per-user folder, never beside the installed source."""
import os
import pathlib
import subprocess
import sys

import pytest

from k2p_keras._numba import numba_cache_folder

from conftest import REPO

pytest.importorskip("numba")


def test_the_cache_folder_is_numbas_own_setting_else_the_users_cache():
    assert numba_cache_folder({"NUMBA_CACHE_DIR": "/chosen", "XDG_CACHE_HOME": "/x"}) == "/chosen"
    assert numba_cache_folder({"XDG_CACHE_HOME": "/x"}) == os.path.join("/x", "k2p-keras", "numba")
    assert numba_cache_folder({"NUMBA_CACHE_DIR": ""}) == os.path.join(
        os.path.expanduser("~"), ".cache", "k2p-keras", "numba")


def python(code, tmp_path, **environ):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)]), **environ)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_scan_and_memelite_cache_their_kernels_in_the_users_folder(tmp_path):
    code = ("from k2p_keras.scan import lookup, rescore\n"
            "from k2p_keras.annotate.match.tomtom import require_annotate\n"
            "memelite, _ = require_annotate()\n"
            "import importlib; t = importlib.import_module('memelite.tomtom')\n"
            "kernels = [lookup.one_hot_to_best_windows, rescore.accumulate_window_sums]\n"
            "kernels += [f for f in vars(t).values() if hasattr(f, '_cache')][:1]\n"
            "print(*[k._cache._cache_path for k in kernels])\n")
    paths = python(code, tmp_path, XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert len(paths) == 3
    for path in paths:
        assert pathlib.Path(path).parent == tmp_path / "cache" / "k2p-keras" / "numba", path
    # The user's own folder wins.
    paths = python(code, tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "mine"))
    assert all(pathlib.Path(path).parent == tmp_path / "mine" for path in paths)


def test_compiled_on_disk_says_whether_a_call_would_compile(tmp_path):
    (tmp_path / "tiny_kernel.py").write_text("from k2p_keras._numba import import_numba\n"
                                             "numba = import_numba()\n"
                                             "@numba.njit(cache=True)\n"
                                             "def add_one(x):\n"
                                             "    return x + 1\n")
    code = ("from k2p_keras._numba import compiled_on_disk\n"
            "from tiny_kernel import add_one\n"
            "before = compiled_on_disk(add_one)\n"
            "add_one(1)\n"
            "print(before, compiled_on_disk(add_one))\n")
    cache = str(tmp_path / "cache")
    assert python(code, tmp_path, XDG_CACHE_HOME=cache) == ["False", "True"]
    assert python(code, tmp_path, XDG_CACHE_HOME=cache) == ["True", "True"]  # a later process
    assert not list(tmp_path.glob("__pycache__/*.nb*"))  # nothing beside the source


def test_compiled_on_disk_tells_one_kind_of_argument_from_another(tmp_path):
    """A kernel compiled for an optional argument given as None is not compiled for a tuple there
    (the scan's sums with and without the diagnostics): the signature test tells them apart."""
    (tmp_path / "optional_kernel.py").write_text("from k2p_keras._numba import import_numba\n"
                                                 "numba = import_numba()\n"
                                                 "@numba.njit(cache=True)\n"
                                                 "def plus(x, extra):\n"
                                                 "    return x if extra is None else x + extra[0]\n")
    code = ("from k2p_keras._numba import compiled_on_disk\n"
            "from optional_kernel import plus\n"
            "def cached(kind):\n"
            "    return compiled_on_disk(plus, signature=lambda types: (str(types[-1]) != 'none') == kind)\n"
            "plus(1, None)\n"
            "print(cached(False), cached(True))\n"
            "plus(1, (2,))\n"
            "print(cached(False), cached(True))\n")
    assert python(code, tmp_path, XDG_CACHE_HOME=str(tmp_path / "cache")) == ["True", "False", "True", "True"]
