"""Baselines for benchmarks/compare.py: a deep-only U-Net and a classical LoG picker, and the cases they share."""
