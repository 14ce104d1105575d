"""How much class information fixed features of the INRs carry, read by a linear probe: multinomial
logistic regression on standardised features, its L2 strength chosen on the validation split.

Features:
- ``dws``: the pooled invariant features of a randomly initialised, untrained `DWSNet`;
- ``stats``: per layer, the mean, standard deviation and five quantiles of the weights and of the
  biases (invariant, hand-made: the statistical baseline of weight-space learning);
- ``params``: the standardised flat parameters themselves (not invariant to neuron permutations).

    python -m experiments.probe_features --data runs/inrs/fmnist-6000-v1 --preset small
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

import nngraph
from nngraph.models import DWSNet

from .cli import Parser, non_negative_int, positive_int, run
from .cpu import keep_freed_memory
from .presets import PRESETS, model_kwargs

FEATURES = ("dws", "stats", "params")
L2 = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
QUANTILES = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])


def layer_statistics(weights: list[torch.Tensor], biases: list[torch.Tensor]) -> torch.Tensor:
    """``[B, 14 * layers]``: mean, std and quantiles of each layer's weights and biases."""
    out = []
    for t in (*weights, *biases):
        flat = t.flatten(1)
        out += [flat.mean(1, keepdim=True), flat.std(1, correction=0, keepdim=True), flat.quantile(QUANTILES.to(flat), dim=1).T]
    return torch.cat(out, dim=1)


@torch.no_grad()
def features(kind: str, dataset: nngraph.INRDataset, normalize: nngraph.Normalize, model: DWSNet | None,
             batch_size: int = 256) -> torch.Tensor:
    out = []
    for batch in dataset.batches(batch_size):
        batch = normalize(batch)
        if kind == "dws":
            out.append(model.invariants(batch))
        elif kind == "stats":
            out.append(layer_statistics(*nngraph.layer_views(batch)))
        else:
            out.append(nngraph.flat_params(batch))
    return torch.cat(out)


def probe(train: tuple, val: tuple, test: tuple, num_classes: int) -> dict:
    """Fits the probe for each L2 strength; returns the accuracies at the best validation one."""
    (x, y), (xv, yv), (xt, yt) = train, val, test
    mean, std = x.mean(0), x.std(0)
    std = torch.where(std > 1e-6, std, 1.0)  # constant features (dead units, one-bias layers) stay 0
    x, xv, xt = ((a - mean) / std for a in (x, xv, xt))
    best = None
    for l2 in L2:
        linear = torch.nn.Linear(x.shape[1], num_classes)
        opt = torch.optim.LBFGS(linear.parameters(), lr=1, max_iter=500, history_size=20, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(linear(x), y) + l2 * linear.weight.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            acc = {name: (linear(a).argmax(1) == b).float().mean().item()
                   for name, a, b in (("train", x, y), ("val", xv, yv), ("test", xt, yt))}
        if best is None or acc["val"] > best["val"]:
            best = {**acc, "l2": l2}
    return best


def main(argv=None) -> dict:
    ap = Parser(description=__doc__)
    ap.add_argument("--data", required=True, help="INR dataset directory written by experiments.fit_inrs")
    ap.add_argument("--features", nargs="+", choices=FEATURES, default=list(FEATURES))
    ap.add_argument("--preset", choices=sorted(PRESETS), default="small", help="size of the random DWSNet")
    ap.add_argument("--seed", type=non_negative_int, default=0, help="initialisation of the random DWSNet")
    ap.add_argument("--threads", type=positive_int, default=None)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    splits = {s: nngraph.INRDataset(args.data, s) for s in ("train", "val", "test")}
    spec, num_classes = splits["train"].spec, splits["train"].num_classes
    normalize = nngraph.Normalize(splits["train"].stats)
    torch.manual_seed(args.seed)
    model = DWSNet(spec, num_classes, **model_kwargs(args.preset, "dws")).eval()
    results = {}
    for kind in args.features:
        data = [(features(kind, ds, normalize, model), ds.labels) for ds in splits.values()]
        results[kind] = {**probe(*data, num_classes), "dim": data[0][0].shape[1]}
        r = results[kind]
        print(f"{kind:>6} ({r['dim']:>5} features): test {100 * r['test']:.2f}%, val {100 * r['val']:.2f}%, "
              f"train {100 * r['train']:.2f}% (L2 {r['l2']:g})", flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"data": args.data, "preset": args.preset, "seed": args.seed,
                                              "num_train": len(splits["train"]), "probes": results}, indent=2))
    return results


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
