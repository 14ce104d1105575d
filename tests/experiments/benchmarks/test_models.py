"""The model benchmark runs end to end (tiny sizes; the figures themselves are not checked)."""
import torch

from experiments.benchmarks.models import main


def test_bench_runs(capsys):
    threads = torch.get_num_threads()
    try:
        main(["--device", "cpu", "--batch-size", "2", "--steps", "1", "--warmup", "0", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    for name in ("RT (edges)", "RT (all pairs)", "DWSNet", "samples/s", "reference"):
        assert name in out
