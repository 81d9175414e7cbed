"""Hypothesis profiles: the suite draws the same examples on every run by default, so a run is
reproducible and CI's verdict does not depend on luck; ``HYPOTHESIS_PROFILE=explore`` draws fresh
random examples (and more of them) to hunt for new failures, which then become fixed tests."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
