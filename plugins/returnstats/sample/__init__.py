"""The independent sample-report generator and its ground truth: the oracle of the tests.

It imports no other `returnstats` module on purpose, so the pipeline is compared with
figures computed another way.
"""

from returnstats.sample.deliver import deliver
from returnstats.sample.generate import SampleInfo, generate

__all__ = ["SampleInfo", "deliver", "generate"]
