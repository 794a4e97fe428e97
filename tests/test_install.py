"""The README's install sequence in a fresh virtual environment: install, run, editable install,
run in the checkout and from elsewhere.

numba used to cache its compiled kernels beside the installed source: ``pip install -e``
then left ``site-packages/k2p_keras/scan/__pycache__`` behind, an empty namespace package
that shadowed the editable install (``ImportError: cannot import name '__version__'``). The
kernels now go to ``$XDG_CACHE_HOME/k2p-keras/numba``.

The dependencies are not downloaded: the new environment sees this one's site-packages
through a ``.pth`` file naming a folder of symbolic links to every package but k2p-keras and
pip, and pip installs offline (``--no-index --no-build-isolation``, the one difference from
the README's commands). The slow part is numba compiling the scan twice (once per installed
copy, the installed one and the checkout's): minutes on a busy machine.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

from k2p_keras.io.meme import read_meme

from conftest import REPO

pytestmark = pytest.mark.slow

TIMEOUT = 1800


def site_packages_farm(folder):
    """Symbolic links to this interpreter's installed packages, leaving out k2p-keras and pip."""
    folder.mkdir()
    for site in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        for entry in os.listdir(site):
            lower = entry.lower()
            if (lower.startswith(("k2p_keras", "k2p-keras", "__editable__", "_distutils_hack"))
                    or lower == "pip" or lower.startswith("pip-") or lower.endswith(".pth")
                    or (folder / entry).exists()):
                continue
            os.symlink(os.path.join(site, entry), folder / entry)
    return folder


def compiled_caches(folder):
    return sorted(str(p) for p in pathlib.Path(folder).rglob("*") if p.suffix in (".nbi", ".nbc"))


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("install")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (pathlib.Path(site) / "zz_k2p_test_dependencies.pth").write_text(f"{site_packages_farm(root / 'farm')}\n")
    clone = root / "k2p-keras"
    shutil.copytree(REPO, clone, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", ".pytest_cache", ".hypothesis", "*.meme"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "VIRTUAL_ENV")}
    env.update(XDG_CACHE_HOME=str(root / "cache"), TF_CPP_MIN_LOG_LEVEL="2", PIP_DISABLE_PIP_VERSION_CHECK="1")
    (root / "elsewhere").mkdir()
    return {"root": root, "venv": venv, "site": pathlib.Path(site), "clone": clone, "env": env,
            "cache": root / "cache" / "k2p-keras" / "numba"}


def run(setup, *args, cwd):
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=setup["env"], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def test_install_run_editable_install_run_here_and_elsewhere(fresh_venv):
    s = fresh_venv
    pip, k2p = s["venv"] / "bin" / "pip", s["venv"] / "bin" / "k2p-keras"
    model, seqs = pathlib.Path("example_models/deepbind.h5"), pathlib.Path("data/example_seqs.h5")
    offline = ["--no-index", "--no-build-isolation", "-q"]

    run(s, pip, "install", *offline, ".", cwd=s["clone"])
    run(s, k2p, model, seqs, "-o", s["root"] / "installed.meme", cwd=s["clone"])
    assert (s["site"] / "k2p_keras" / "scan").is_dir()
    assert compiled_caches(s["site"]) == []  # nothing beside the installed source
    assert compiled_caches(s["cache"]), "the scan's kernels were not cached in the user's folder"

    run(s, pip, "install", *offline, "-e", ".[test]", cwd=s["clone"])
    assert not (s["site"] / "k2p_keras").exists()  # the installed copy is gone, all of it
    run(s, k2p, model, "--base", "2", "-o", s["root"] / "editable.meme", cwd=s["clone"])
    elsewhere = s["root"] / "elsewhere"
    run(s, k2p, s["clone"] / model, s["clone"] / seqs, "-o", elsewhere / "elsewhere.meme", cwd=elsewhere)
    where = run(s, s["venv"] / "bin" / "python", "-c", "import k2p_keras; print(k2p_keras.__file__)", cwd=elsewhere)
    assert where.stdout.strip() == str(s["clone"] / "k2p_keras" / "__init__.py")
    assert compiled_caches(s["clone"]) == [] and compiled_caches(s["venv"]) == []

    installed, editable = read_meme(s["root"] / "installed.meme"), read_meme(elsewhere / "elsewhere.meme")
    assert len(installed) == len(editable) == 16
    for a, b in zip(installed, editable, strict=True):
        np.testing.assert_array_equal(a.pwm, b.pwm)
