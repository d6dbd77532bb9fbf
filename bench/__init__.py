"""Benchmarks of informer-mirror, each next to a naive baseline; results land in bench/results/.

Run one with ``python -m bench.<name>`` (e.g. ``python -m bench.store_memory``). Benchmarks measure;
tests never assert timings.
"""
