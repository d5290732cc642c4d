"""Measurement harness for the mock server and the conformance suite (issue 6): `python -m benchmarks`."""
