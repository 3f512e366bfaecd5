"""Shared fixtures: the bundled CDNOW logs, loaded once per test session."""

from __future__ import annotations

import pytest

import clv


@pytest.fixture(scope="session")
def cdnow_sample() -> clv.TransactionLog:
    return clv.datasets.cdnow(sample=True)


@pytest.fixture(scope="session")
def cdnow_master() -> clv.TransactionLog:
    return clv.datasets.cdnow(sample=False)


@pytest.fixture(scope="session")
def cdnow_calibration(cdnow_sample):
    """The literature's CDNOW calibration summary: 1/10 sample, purchases merged
    per day, weeks as days / 7, 39 weeks ending 1997-09-30."""
    return clv.summarize(cdnow_sample, freq="D", time_unit="W", observation_end="1997-09-30")
