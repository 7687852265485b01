"""Test-session settings shared by every test directory."""

import os

from hypothesis import settings

# Property tests run derandomized (the same examples on every run and machine) so CI is stable; each test sets
# its own budget (max_examples). HYPOTHESIS_PROFILE=explore draws fresh examples, e.g. for a longer local run.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
