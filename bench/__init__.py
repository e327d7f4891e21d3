"""Benchmarks (not part of the default test run): `make bench`."""
