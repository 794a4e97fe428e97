import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("K2P_SHARED", REPO.parent / "shared"))
GOLDEN = SHARED / "data" / "k2p-1.0"
# JASPAR (CC BY 4.0) ships in the repo: tests that use it never skip.
JASPAR = REPO / "data" / "jaspar" / "JASPAR_CORE_2016.meme"


@pytest.fixture
def golden():
    """The k2p-1.0 toy inputs and outputs; tests that need them skip when ../shared is absent."""
    if not GOLDEN.is_dir():
        pytest.skip(f"needs k2p-1.0's own files (the original toolbox's toy inputs and outputs, not "
                    f"shipped in this repository), not found at {GOLDEN}; set K2P_SHARED to the shared folder")
    return GOLDEN
