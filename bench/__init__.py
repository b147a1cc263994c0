"""Benchmarks: a bulk seeder, the page benchmark and the two-app-server check (docs/performance.md).

Not part of the test suite and not imported by the app.
"""
