"""Benchmark workloads (DESIGN §13): `qunflow bench`. Benchmarks are not tests; timings live here."""

from .report import render
from .workloads import WORKLOADS, run_workload

__all__ = ["WORKLOADS", "render", "run_workload"]
