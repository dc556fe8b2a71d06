"""Benchmarks for codat_nb, run by hand: ``python -m bench.run_all``.

Results and how to read them: docs/benchmarks.md.
"""
