"""Shared pytest configuration.

Hypothesis runs deterministically by default (derandomized, no deadline, a
modest number of examples) so the suite is fast and reproducible. Setting
``AG_SLOW=1`` loads the "slow" profile (1,000 examples per property) and
enables tests marked ``@pytest.mark.slow``.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

SLOW = os.environ.get("AG_SLOW") == "1"

settings.register_profile("default", derandomize=True, deadline=None, max_examples=50,
                          print_blob=True)
settings.register_profile("slow", derandomize=True, deadline=None, max_examples=1000,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("slow" if SLOW else "default")


def pytest_collection_modifyitems(config, items):
    """Skip ``slow``-marked tests unless AG_SLOW=1."""
    if SLOW:
        return
    skip = pytest.mark.skip(reason="slow run: set AG_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
