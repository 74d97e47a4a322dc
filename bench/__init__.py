"""Benchmarks of the real bot process against the emulators (see bench/README.md)."""
