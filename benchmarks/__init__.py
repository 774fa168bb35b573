"""Benchmarks: quality against the baselines, and speed/memory against image size."""
