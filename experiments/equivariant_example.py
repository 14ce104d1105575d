"""An equivariant task for `DWSEquivariant`: from an image INR's weights alone, predict the weights
it reaches after ``--steps`` more fitting steps on its image, in one shot.

    python -m experiments.equivariant_example --data results/inrs/fmnist2k-v1 --out results/figures/equivariant-example.png

Targets: every INR of the dataset fitted ``--steps`` further (Adam, the image recipe's lr) on its
own image. The head reads the normalised weights and predicts the change, per layer in units of
the change's training-set standard deviation. Reported on the test INRs: the PSNR of the INRs as
they are, after the further fitting, and after the predicted change; the figure shows a few.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

import nngraph
from nngraph.datasets.build import IMAGE_RECIPE, _Source
from nngraph.datasets.fitting import psnr_of
from nngraph.datasets.shards import load_shard, read_manifest
from nngraph.models import DWSEquivariant

from .cli import Parser, non_negative_int, positive_int, run

ROOTS = {"fmnist-subset": Path(__file__).resolve().parent / "data" / "fashion-mnist-subset"}


def further_fitted(data: Path, split: str, steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(params, params after steps more updates, images [n, 784])`` of one split of an image dataset."""
    manifest = read_manifest(data)
    source = _Source(manifest["dataset"], ROOTS.get(manifest["dataset"]), manifest["limit"])
    spec = nngraph.NetworkSpec.from_dict(manifest["spec"])
    rows = [load_shard(data / e["file"], (e["stop"] - e["start"]), keys=("params", "object"))
            for e in manifest["shards"] if e["split"] == split]
    params = torch.cat([r["params"] for r in rows])
    objects = torch.cat([r["object"] for r in rows]).numpy()
    coords, images = source.targets(manifest["splits"][split]["source_split"], np.asarray(objects), IMAGE_RECIPE, 0)
    further = nngraph.fit_inrs(coords, images, spec, steps=steps, lr=IMAGE_RECIPE.lr, optimizer="adam",
                               psnr_stop=None, initial=params, progress=False).params
    return params, further, images.reshape(len(params), -1)


def psnr(spec, params: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    w, b = nngraph.views.split_layers(spec, params[:, :spec.num_edges], params[:, spec.num_edges:])
    out = nngraph.forward_batched(spec, w, b, nngraph.coordinate_grid(28, 28)).reshape(len(params), -1)
    return psnr_of((out - images).square().mean(dim=1))


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("results/inrs/fmnist2k-v1"))
    ap.add_argument("--steps", type=positive_int, default=100, help="further fitting steps to predict")
    ap.add_argument("--epochs", type=positive_int, default=30)
    ap.add_argument("--seed", type=non_negative_int, default=0)
    ap.add_argument("--out", type=Path, default=Path("results/figures/equivariant-example.png"))
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    start = time.time()
    spec = nngraph.NetworkSpec.from_dict(read_manifest(args.data)["spec"])
    train_p, train_t, _ = further_fitted(args.data, "train", args.steps)
    test_p, test_t, test_images = further_fitted(args.data, "test", args.steps)
    print(f"targets: {len(train_p)} training and {len(test_p)} test INRs fitted {args.steps} steps further "
          f"({time.time() - start:.0f} s)", flush=True)
    norm = nngraph.Normalize(read_manifest(args.data)["stats"])
    delta = train_t - train_p
    layer_of = torch.cat([spec.edge_layer, spec.node_layer[spec.layer_sizes[0]:] - 1])
    scale = torch.stack([delta[:, layer_of == l].std() for l in range(spec.num_layers)])[layer_of].clamp_min(1e-8)
    head = DWSEquivariant(spec, hidden_dim=32, num_layers=2)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3)

    def predict(params):
        out = head(norm(nngraph.to_batch(params, spec)))
        return nngraph.flat_params(out) * scale

    for epoch in range(args.epochs):
        order = torch.randperm(len(train_p))
        total = 0.0
        for idx in order.split(64):
            loss = ((predict(train_p[idx]) - delta[idx]) / scale).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if epoch in (0, args.epochs - 1) or (epoch + 1) % 10 == 0:
            print(f"  epoch {epoch + 1}: training loss {total / len(train_p):.3f} (1.0: predicting no change)",
                  flush=True)
    with torch.no_grad():
        predicted = torch.cat([test_p[idx] + predict(test_p[idx]) for idx in torch.arange(len(test_p)).split(256)])
        rel = (((predicted - test_t) / scale).square().mean() / ((test_p - test_t) / scale).square().mean()).item()
        before, after, ours = (psnr(spec, p, test_images) for p in (test_p, test_t, predicted))
    print(f"test INRs: PSNR {before.mean():.2f} dB as fitted, {after.mean():.2f} dB after {args.steps} more steps, "
          f"{ours.mean():.2f} dB after the predicted change; squared error of the predicted weights "
          f"{rel:.3f} of predicting no change ({time.time() - start:.0f} s)")
    _figure(spec, test_images[:6], test_p[:6], test_t[:6], predicted[:6], args.steps, args.out)
    print(f"figure: {args.out}")


def _figure(spec, images, before, after, ours, steps, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("image", images), ("INR as fitted", None), (f"after {steps} more steps", None), ("predicted", None)]
    renders = [images.reshape(-1, 28, 28)] + [
        nngraph.forward_batched(spec, *nngraph.views.split_layers(spec, p[:, :spec.num_edges], p[:, spec.num_edges:]),
                                nngraph.coordinate_grid(28, 28)).reshape(-1, 28, 28) for p in (before, after, ours)]
    fig, axes = plt.subplots(len(rows), len(images), figsize=(1.3 * len(images), 1.4 * len(rows)))
    for r, ((label, _), batch) in enumerate(zip(rows, renders)):
        for c in range(len(images)):
            ax = axes[r, c]
            ax.imshow(batch[c].detach().clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    run(main)
