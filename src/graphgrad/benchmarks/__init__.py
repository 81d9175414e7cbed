"""Benchmarks run by `graphgrad bench`: speed against baselines, and the cost of naive gradients."""
