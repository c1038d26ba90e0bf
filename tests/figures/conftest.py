from __future__ import annotations

import pytest
from campaign_days import d, inputs_as_of
from returnstats.figures.publish import FigureInputs


@pytest.fixture
def day13() -> FigureInputs:
    """The hand-made inputs as the run for 2020-02-13 sees them (campaign_days.py)."""
    return inputs_as_of(d(13))
