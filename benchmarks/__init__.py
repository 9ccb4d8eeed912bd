"""Benchmarks: stage and ingest throughput against a raw COPY, measured in one run.

Absolute numbers on a shared 2-core machine move by tens of percent from run
to run; the ratio of each step to a plain COPY of the same records, measured
minutes apart in the same cluster, moves much less. `python -m benchmarks.run`
reports both. See docs/benchmarks.md.
"""
