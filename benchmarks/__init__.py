"""Benchmarks for convnext-nb: run `python -m benchmarks --help`."""
