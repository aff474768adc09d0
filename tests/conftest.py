"""Shared pytest configuration.

Hypothesis runs deterministically by default (derandomized, no deadline, a
modest number of examples) so the suite is fast and reproducible. Setting
``AG_SLOW=1`` loads the "slow" profile (1,000 examples per property) and
enables tests marked ``@pytest.mark.slow``.

The real data sets live outside the repository, in ``../shared/data`` beside
the clone. The product knows no such path: it reads the folder named by
``AUTOGRAD_LITE_DATA``. So this file points that variable at the folder when it
exists (unless it is already set), and the ``real_data`` fixture skips a test,
saying why, when a file is absent.
"""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

SLOW = os.environ.get("AG_SLOW") == "1"

settings.register_profile("default", derandomize=True, deadline=None, max_examples=50,
                          print_blob=True)
settings.register_profile("slow", derandomize=True, deadline=None, max_examples=1000,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("slow" if SLOW else "default")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not os.environ.get("AUTOGRAD_LITE_DATA") and SHARED_DATA.is_dir():
    os.environ["AUTOGRAD_LITE_DATA"] = str(SHARED_DATA)  # subprocesses (jobs, notebooks) inherit it
DATA_DIR = Path(os.environ["AUTOGRAD_LITE_DATA"]) if os.environ.get("AUTOGRAD_LITE_DATA") else None


@pytest.fixture(scope="session")
def real_data():
    """A function: file name -> its Path in the data folder, or skip the test saying it is absent."""
    def find(name):
        if DATA_DIR is None:
            pytest.skip(f"AUTOGRAD_LITE_DATA is unset and {SHARED_DATA} is absent: no real data set")
        path = DATA_DIR / name
        if not path.is_file():
            pytest.skip(f"{path} is absent (the real data sets live beside the clone in shared/data, "
                        "or in the folder named by AUTOGRAD_LITE_DATA)")
        return path
    return find


def pytest_collection_modifyitems(config, items):
    """Skip ``slow``-marked tests unless AG_SLOW=1."""
    if SLOW:
        return
    skip = pytest.mark.skip(reason="slow run: set AG_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def football(real_data):
    """The real football set's training examples and labels, (X (2, 211), Y (1, 211)) (a test file may
    define its own ``football``, which then takes its place)."""
    from models import data
    return data.load_football(real_data("football.npz"))[:2]
