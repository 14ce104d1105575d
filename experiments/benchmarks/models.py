"""Training throughput of the weight-space classifiers: samples per second for forward, backward and
an AdamW step on batches of 2-32-32-1 SIREN graphs, beside a dense relation transformer laid out as
the public neural-graphs NG-T is (`dense_rt`, timed in the same run: the "x dense" column) and the
published figures of NG-T and its DWSNet at the same settings (the "x published" column).

    python -m experiments.benchmarks.models --device cpu
    python -m experiments.benchmarks.models --device cuda [--compile] [--precision bf16-mixed]
"""
from __future__ import annotations

import time

import torch

import nngraph
from nngraph.models import DWSNet, RelationTransformer

from ..cli import PRECISIONS, Parser, non_negative_int, positive_int, run
from ..cpu import keep_freed_memory
from .dense_rt import DenseRelationTransformer

# Public neural-graphs implementation: NG-T (dense all-pairs relational transformer, node 64, edge 32,
# attention 128, 8 heads, 4 layers) and its DWSNet copy (hidden 128), batch 128.
REFERENCE = {
    "cpu": {"RT": 5.2, "DWSNet": 21.0},  # the 2-core CPU; NG-T gets about 20 at batch 8
    "cuda": {"RT": 1193.0, "DWSNet": 714.0},  # one H200
}
REFERENCE_NOTE = ("x dense: against the dense NG-T layout timed above; published: neural-graphs NG-T (both RT rows "
                  "compare with it) and its DWSNet, batch 128; CPU: 2 cores, CUDA: one H200")


def build(name: str, spec: nngraph.NetworkSpec, attention_dim: int) -> torch.nn.Module:
    if name == DENSE:
        return DenseRelationTransformer(spec, 10, attention_dim=attention_dim)
    if name == "RT (edges)":
        return RelationTransformer(spec, 10, attention_dim=attention_dim, attention="edges")
    if name == "RT (all pairs)":
        return RelationTransformer(spec, 10, attention_dim=attention_dim, attention="all")
    return DWSNet(spec, 10)


DENSE = "dense RT (NG-T)"
MODELS = (DENSE, "RT (edges)", "RT (all pairs)", "DWSNet")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(name: str, spec: nngraph.NetworkSpec, batch_size: int, device: torch.device, steps: int, warmup: int,
          compile: bool, attention_dim: int, bf16: bool = False) -> float:
    """Seconds per training step (``bf16``: forward and loss under bfloat16 autocast, as Lightning's
    ``bf16-mixed`` runs them)."""
    torch.manual_seed(0)
    return bench_step(build(name, spec, attention_dim), spec, batch_size, device, steps, warmup, compile, bf16)


def bench_step(model: torch.nn.Module, spec: nngraph.NetworkSpec, batch_size: int, device: torch.device, steps: int,
               warmup: int, compile: bool = False, bf16: bool = False) -> float:
    """Seconds per training step of ``model`` on a batch of random ``spec`` networks."""
    model = model.to(device)
    forward = torch.compile(model) if compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    weights, biases = nngraph.init_params(spec, batch_size, device=device)
    params = torch.cat([w.reshape(batch_size, -1) for w in weights] + biases, dim=1)
    batch = nngraph.to_batch(params, spec, y=torch.randint(0, 10, (batch_size,), device=device))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(forward(batch), batch.y)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def main(argv=None) -> None:
    parser = Parser(description=__doc__)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--steps", type=positive_int, default=None, help="timed steps (default: 3 on CPU, 30 on CUDA)")
    parser.add_argument("--warmup", type=non_negative_int, default=None, help="untimed steps first (default: 1 on CPU, 5 on CUDA)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--attention-dim", type=positive_int, default=128, help="RT query/key/value size (default: 128)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the models (meant for CUDA)")
    parser.add_argument("--precision", choices=PRECISIONS, default="32-true",
                        help="bf16-mixed: under bfloat16 autocast, as experiments.train --precision bf16-mixed")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's own choice)")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="CPU: glibc keeps freed blocks for reuse (the reference figures are without this)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    if args.keep_freed_memory:
        keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (30 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else ((10 if args.compile else 5) if cuda else 1)
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    where = torch.cuda.get_device_name(device) if cuda else f"cpu, {torch.get_num_threads()} threads"
    bf16 = args.precision == "bf16-mixed"
    notes = [n for n, on in (("compiled", args.compile), ("bf16-mixed", bf16),
                             ("glibc keeps freed memory", args.keep_freed_memory)) if on]
    print(f"training step (forward + backward + AdamW), {spec}, batch {args.batch_size}, {where}"
          + "".join(f", {n}" for n in notes) + f"; RT attention dim {args.attention_dim}")
    print(f"{'model':<18}{'ms/step':>10}{'samples/s':>12}{'x dense':>9}{'published':>11}{'x published':>13}")
    reference = REFERENCE[device.type]
    dense = None
    for name in args.models:
        try:
            seconds = bench(name, spec, args.batch_size, device, steps, warmup, args.compile, args.attention_dim, bf16)
        except Exception as e:  # noqa: BLE001 - report a failed compile and go on with the others
            if not args.compile:
                raise
            print(f"{name:<18}  compile failed: {type(e).__name__}: {str(e).splitlines()[0][:80]}")
            continue
        rate = args.batch_size / seconds
        dense = rate if name == DENSE else dense
        ref = reference["DWSNet" if name == "DWSNet" else "RT"]
        against_dense = f"{rate / dense:>8.1f}x" if dense and name not in (DENSE, "DWSNet") else f"{'':>9}"
        print(f"{name:<18}{seconds * 1e3:>10.1f}{rate:>12,.1f}{against_dense}{ref:>11,.1f}{rate / ref:>12.1f}x")
    print(REFERENCE_NOTE)


if __name__ == "__main__":
    run(main)
