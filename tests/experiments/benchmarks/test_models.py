"""The model benchmark runs end to end (tiny sizes; the figures themselves are not checked)."""
import pytest
import torch

import nngraph
from nngraph.experiments.benchmarks.dense_rt import DenseRelationTransformer
from nngraph.experiments.benchmarks.models import main


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_bench_runs(capsys, precision):
    threads = torch.get_num_threads()
    try:
        main(["--device", "cpu", "--batch-size", "2", "--steps", "1", "--warmup", "0", "--threads", "1",
              "--precision", precision])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert ("bf16-mixed" in out.splitlines()[0]) == (precision == "bf16-mixed")
    for name in ("dense RT (NG-T)", "RT (edges)", "RT (all pairs)", "DWSNet", "samples/s", "x dense", "published"):
        assert name in out


def test_dense_baseline_reads_the_batch():
    """The dense NG-T layout gives each graph its own logits (batch order does not mix graphs)."""
    spec = nngraph.NetworkSpec((2, 8, 8, 1))
    params = torch.randn(3, spec.num_params)
    model = DenseRelationTransformer(spec, 10, num_layers=2).eval()
    together = model(nngraph.to_batch(params, spec))
    alone = torch.cat([model(nngraph.to_batch(params[i:i + 1], spec)) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_cell_cost_bench_runs(capsys):
    from nngraph.experiments.benchmarks.cells import main as cells
    threads = torch.get_num_threads()
    try:
        cells(["--batch-size", "2", "--steps", "1", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [("dws", "fmnist", "2-32-32-1"), ("dws", "modelnet10", "3-32-32-32-32-32-1"),
                                                 ("rt", "fmnist", "2-32-32-1"), ("rt", "modelnet10", "3-32-32-32-32-32-1")]
    assert all(float(r[3]) > 0 for r in rows) and rows[0][4] == rows[2][4] == "1.0"
