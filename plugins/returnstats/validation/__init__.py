"""Package and record validation (SPEC §3)."""

import logging

# Great Expectations logs at INFO for its own bookkeeping (214 "Skipping registering
# function" lines per import alone): only its warnings and errors reach task logs.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
