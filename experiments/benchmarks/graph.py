"""Graph conversion and batching throughput: the one-spec fast paths against PyG's generic
``Batch.from_data_list``, measured in the same run.

    python -m experiments.benchmarks.graph [--device cuda] [--batch-size 128]
"""
from __future__ import annotations


import torch
from torch_geometric.data import Batch

import nngraph

from .timing import rate

from ..cli import Parser, layer_sizes, positive_int, run


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=positive_int, default=128)
    ap.add_argument("--spec", type=layer_sizes, default=(2, 32, 32, 1))
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    spec = nngraph.NetworkSpec(args.spec)
    B = args.batch_size
    params = torch.randn(B, spec.num_params, device=device)
    y = torch.randint(0, 10, (B,), device=device)
    graphs = [nngraph.to_graph(p, spec, y=y[i:i + 1]) for i, p in enumerate(params)]

    rows = [
        ("[B,P] -> Batch", "to_graph each + Batch.from_data_list",
         rate(lambda: Batch.from_data_list([nngraph.to_graph(p, spec, y=y[i:i + 1]) for i, p in enumerate(params)]), B, device),
         "nngraph.to_batch", rate(lambda: nngraph.to_batch(params, spec, y), B, device)),
        ("graphs -> Batch", "Batch.from_data_list",
         rate(lambda: Batch.from_data_list(graphs), B, device),
         "nngraph.collate", rate(lambda: nngraph.collate(graphs), B, device)),
    ]
    print(f"spec {spec}, batch {B}, device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
          f"torch {torch.__version__}")
    print(f"{'task':<17} {'baseline':<38} {'graphs/s':>10}   {'fast path':<18} {'graphs/s':>10} {'speed-up':>9}")
    for task, base, base_rate, fast, fast_rate in rows:
        print(f"{task:<17} {base:<38} {base_rate:>10,.0f}   {fast:<18} {fast_rate:>10,.0f} {fast_rate / base_rate:>8.1f}x")


if __name__ == "__main__":
    run(main)
