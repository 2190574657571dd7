"""Shared fixtures. The tests run against the installed package (or the library
named by UNLOCKED_LIBRARY); the plugin comes from the Swift build."""

from __future__ import annotations

import os
from pathlib import Path

import numpy
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sqdist_plugin() -> str:
    """The sqdist example plugin (product PluginSqdist of the Swift package)."""
    path = Path(os.environ.get("UNLOCKED_PLUGIN_SQDIST", REPOSITORY / ".build" / "release" / "libPluginSqdist.so"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `swift build -c release` (make build), "
                    "or point UNLOCKED_PLUGIN_SQDIST at it")
    return str(path)


@pytest.fixture
def rng() -> numpy.random.Generator:
    return numpy.random.default_rng(20240517)
