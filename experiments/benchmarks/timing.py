"""Throughput timing shared by the benchmark scripts."""
from __future__ import annotations

import time

import torch


def rate(fn, n: int, device: torch.device, min_time: float = 1.0, min_repeats: int = 5) -> float:
    """Items per second of ``fn`` processing ``n`` items: the median of repeated timings after a
    warm-up call, synchronising CUDA so that asynchronous work is counted."""
    fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < min_repeats:
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t)
    return n / sorted(times)[len(times) // 2]
