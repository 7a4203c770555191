"""Shared fixtures: real components only. In CI (CI=true) a missing component fails, never skips."""

pytest_plugins = [
    "tests.fixtures.components",
    "tests.fixtures.kafka",
    "tests.fixtures.postgres",
    "tests.fixtures.tracing",
]
