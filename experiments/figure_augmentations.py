"""Figure 2 of the paper: Fashion-MNIST INRs under each weight-space augmentation, rendered back
to images. Mixup columns mix with the next INR of the row order at lambda = 0.5.

    python -m experiments.figure_augmentations [--data DIR] [--out results/figures/augmentations.png]

Without ``--data``, a few INRs are fitted from the embedded subset first.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from nngraph import augment  # noqa: E402
import nngraph  # noqa: E402

from .cli import Parser, non_negative_int, run
from .fit_inrs import build as build_inrs  # noqa: E402

COLUMNS = ["none", "translate", "rotate", "scale", "noise", "dropout", "quantile_dropout", "siren_negation",
           "siren_bias", "permutation", "mixup", "mixup_permutation", "mixup_weight_matching",
           "mixup_signed_weight_matching"]


def augmented_images(dataset: nngraph.INRDataset, indices: list[int], seed: int = 0) -> dict[str, torch.Tensor]:
    """{augmentation: [rows, H, W]} for the INRs at ``indices``; mixup partners are the next index."""
    batch = dataset.batch(indices)
    partner = dataset.batch(indices[1:] + indices[:1])
    out = {}
    for name in COLUMNS:
        torch.manual_seed(seed)
        t = augment.build(name, num_classes=dataset.num_classes)
        if isinstance(t, augment.Mixup):
            g = t.mix(batch, t.align(batch, partner), torch.full((len(indices),), 0.5))
        else:
            g = t(batch)
        out[name] = nngraph.render_image(g).clamp(0, 1)
    return out


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--data", type=Path, default=None, help="INR dataset directory (experiments.fit_inrs)")
    ap.add_argument("--indices", type=non_negative_int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--seed", type=non_negative_int, default=0)
    ap.add_argument("--out", type=Path, default=Path("results/figures/augmentations.png"))
    args = ap.parse_args(argv)
    data = args.data
    if data is None:
        data = Path("runs/inrs/figure")
        build_inrs("fmnist-subset", data, limit=12, progress=False)
    dataset = nngraph.INRDataset(data, "test")
    images = augmented_images(dataset, args.indices, args.seed)
    rows = len(args.indices)
    fig, axes = plt.subplots(rows, len(COLUMNS), figsize=(1.1 * len(COLUMNS), 1.2 * rows + 0.6), squeeze=False)
    for c, name in enumerate(COLUMNS):
        axes[0, c].set_title(name.replace("mixup_", "mixup\n").replace("_", " "), fontsize=7)
        for r in range(rows):
            axes[r, c].imshow(images[name][r].cpu(), cmap="gray", vmin=0, vmax=1)
            axes[r, c].axis("off")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=130)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run(main)
