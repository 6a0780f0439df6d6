"""Fixtures shared by the torch backend tests: a 4-rank railcc job kept for the whole session."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import harness  # noqa: E402


@pytest.fixture(scope="session")
def world4():
    w = harness.World(4)
    yield w
    w.close()
