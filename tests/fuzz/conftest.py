"""Hypothesis profiles for the fuzz tests.

The default run stays bounded (a few hundred examples per property, seconds in all); the
larger run is chosen on the command line, never by an environment variable:

    .venv/bin/pytest tests/fuzz --hypothesis-profile=thorough
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=200,
    deadline=None,  # a loaded 2-core CI box must not turn slowness into a failure
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# --hypothesis-profile is applied before this file is imported: keep it when one was chosen.
if settings.get_current_profile_name() == "default":
    settings.load_profile("default")
