"""What a contrastive pre-training step costs beside a supervised one: the same encoder (the `small`
preset), the same batch of INRs, forward, backward and an AdamW step. Pre-training sees every INR
twice (two augmented views), so about twice the supervised cost is the goal.

    python -m experiments.benchmarks.pretrain [--data results/inrs/fmnist2k-v1] [--model dws] [--view siren_negation]
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

import nngraph

from ..cli import Parser, positive_int, run
from ..cpu import keep_freed_memory
from ..presets import model_kwargs
from .timing import rate


def main(argv=None) -> dict:
    ap = Parser(description=__doc__)
    ap.add_argument("--data", default="results/inrs/fmnist2k-v1")
    ap.add_argument("--model", choices=("dws", "rt"), default="dws")
    ap.add_argument("--view", default="siren_negation")
    ap.add_argument("--batch-size", type=positive_int, default=128)
    ap.add_argument("--threads", type=positive_int, default=1)
    args = ap.parse_args(argv)
    from nngraph.lightning import ContrastivePretrainer, WeightSpaceClassifier
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = nngraph.INRDataset(args.data, "train")
    normalize = nngraph.Normalize(data.stats)
    batch = data.batch(range(args.batch_size))
    kwargs = model_kwargs("small", args.model, {})
    supervised = WeightSpaceClassifier(data.spec, data.num_classes, model=args.model, model_kwargs=kwargs,
                                       normalize=normalize)
    pretrainer = ContrastivePretrainer(data.spec, args.model, kwargs, view=args.view, normalize=normalize)
    opt_s = torch.optim.AdamW(supervised.parameters(), lr=1e-3)
    opt_p = torch.optim.AdamW(pretrainer.parameters(), lr=1e-3)

    def supervised_step():
        opt_s.zero_grad()
        loss = F.cross_entropy(supervised(normalize(batch.clone())), batch.y)
        loss.backward()
        opt_s.step()

    def pretrain_step():
        opt_p.zero_grad()
        a, b = pretrainer._pair(batch)
        loss = nngraph.lightning.nt_xent(pretrainer.embed(a), pretrainer.embed(b), 0.1)
        loss.backward()
        opt_p.step()

    device = torch.device("cpu")
    sup = rate(supervised_step, args.batch_size, device)
    pre = rate(pretrain_step, args.batch_size, device)
    print(f"{args.model} small, batch {args.batch_size}, {args.threads} thread(s), INRs per second of training:")
    print(f"  supervised (one view)                 {sup:8.0f}")
    print(f"  contrastive ({args.view}, two views)  {pre:8.0f}   {sup / pre:.2f}x the supervised cost (goal: at most 2)")
    return {"supervised": sup, "pretrain": pre, "ratio": sup / pre}


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
