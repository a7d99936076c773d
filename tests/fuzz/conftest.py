"""Hypothesis profiles for the fuzz tests.

The default run stays bounded (a few hundred examples per property, seconds in all); the
larger run is chosen on the command line, never by an environment variable:

    .venv/bin/pytest tests/fuzz --hypothesis-profile=thorough
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Hypothesis picks its "ci" profile by itself when the CI variable is set (as .ci/run's caller
# does): give it the same bounded settings as the default run.
for _name in ("default", "ci"):
    settings.register_profile(
        _name,
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
if settings.get_current_profile_name() in ("default", "ci"):
    settings.load_profile(settings.get_current_profile_name())
