"""Self-supervised contrastive pre-training in weight space (SimCLR's NT-Xent on two augmented views).

Each training batch of INRs is seen twice, through two augmentation pipelines drawn independently
(`nngraph.augment.build` names, on the whole batch, on the training device); an encoder (any
registered model with ``invariants(batch) -> [B, F]``: `DWSNet`, `RelationTransformer`) and a
projection head map each view to an embedding, and the loss pulls the two views of one INR together
and pushes views of different INRs apart (`nt_xent`).

What "positive" means:

- a plain view (a symmetry, noise, dropout, an input-space change): the other view of the same INR;
- a mixup view: the INR mixed with a partner from the batch at weight ``lam`` on itself, with
  ``lam`` drawn from ``lam_range``, whose lower end must be at least 0.5: the INR stays the mixture's
  dominant source, and its positive is the other view of that INR;
- several fitted views of one object (``INRDataModule(views=k)`` with ``views_as_positives``):
  two different INRs of the same object, each then augmented as above.

Permutation alone is the null baseline: the encoders are invariant to it, so its two views give
identical features and the task is plain instance discrimination; whatever such an encoder learns,
it learns without any augmentation's help.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

import lightning as L

import nngraph
from nngraph import augment
from nngraph.augment.registry import split_names
from nngraph.models import MODELS
from nngraph.models.registry import build_checked


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's normalised-temperature cross entropy for ``B`` positive pairs ``(z1[i], z2[i])``: each
    of the ``2B`` embeddings classifies its positive among the other ``2B - 1`` by cosine similarity
    over ``temperature``; the mean over all ``2B``."""
    if z1.shape != z2.shape or z1.dim() != 2 or z1.shape[0] < 2:
        raise ValueError(f"z1, z2: expected two [B, D] embeddings with B >= 2, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    B = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * B, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)]).to(z.device)
    return F.cross_entropy(sim, target)


def check_view(names: str, options: dict) -> None:
    """Refuse a mixup view whose INR might not dominate its mixture (see the module docstring)."""
    for name in split_names(names):
        if name.startswith("mixup"):
            low = (options.get(name) or {}).get("lam_range", (0.0, 1.0))[0]
            if low < 0.5:
                raise ValueError(f"view: {name} with lam_range starting at {low}: a mixup view needs lam_range within "
                                 f"[0.5, 1] (e.g. {{\"{name}\": {{\"lam_range\": [0.5, 1.0]}}}}), so that the INR "
                                 "dominates its mixture and stays its view's positive")


class ContrastivePretrainer(L.LightningModule):
    """Contrastive pre-training of a weight-space encoder.

    Args:
        spec: the INRs' spec. model, model_kwargs: a registered encoder (`nngraph.models.MODELS`) with
            ``invariants``; its own head is left untrained. view, second_view: the two views'
            augmentations (``second_view`` defaults to ``view``). view_options: options by name, as
            ``--augment-options``. temperature: NT-Xent's. projection_dim, projection_hidden: the
            projection head's sizes. normalize: a `nngraph.Normalize` or its statistics (default:
            the trainer's data module's), applied after the views.
    """

    def __init__(self, spec: nngraph.NetworkSpec | dict, model: str = "dws", model_kwargs: dict | None = None,
                 view: str = "siren_negation", second_view: str | None = None, view_options: dict | None = None,
                 temperature: float = 0.1, projection_dim: int = 64, projection_hidden: int = 128,
                 lr: float = 1e-3, weight_decay: float = 5e-4, warmup_steps: int = 0,
                 normalize: nngraph.Normalize | dict | None = None, amsgrad: bool = True):
        super().__init__()
        if isinstance(spec, dict):
            spec = nngraph.NetworkSpec.from_dict(spec)
        if model not in MODELS:
            raise ValueError(f"model: expected one of {sorted(MODELS)}, got {model!r}")
        if not temperature > 0:
            raise ValueError(f"temperature: expected a positive number, got {temperature!r}")
        second_view = view if second_view is None else second_view
        view_options = view_options or {}
        for v in (view, second_view):
            check_view(v, view_options)
        if isinstance(normalize, dict):
            normalize = nngraph.Normalize(normalize)
        self.save_hyperparameters({"spec": spec.to_dict(), "model": model, "model_kwargs": model_kwargs or {},
                                   "view": view, "second_view": second_view, "view_options": view_options,
                                   "temperature": temperature, "projection_dim": projection_dim,
                                   "projection_hidden": projection_hidden, "lr": lr, "weight_decay": weight_decay,
                                   "warmup_steps": warmup_steps, "amsgrad": amsgrad,
                                   "normalize": None if normalize is None else
                                   {k: v.tolist() for k, v in normalize.stats.items()}})
        # The class count only sizes the encoder's own head, which pre-training leaves alone.
        self.encoder = build_checked(model, spec, 2, **(model_kwargs or {}))
        if not hasattr(self.encoder, "invariants"):
            raise ValueError(f"model: {model!r} has no invariants(batch) to pre-train")
        width = self._feature_width(spec)
        self.projection = torch.nn.Sequential(torch.nn.Linear(width, projection_hidden), torch.nn.ReLU(),
                                              torch.nn.Linear(projection_hidden, projection_dim))
        self.views = [augment.build(v, num_classes=1, options={k: o for k, o in view_options.items()
                                                               if k in split_names(v)})
                      for v in (view, second_view)]
        self.normalize = normalize

    def _feature_width(self, spec) -> int:
        was = self.encoder.training
        self.encoder.eval()
        with torch.no_grad():
            width = self.encoder.invariants(nngraph.to_batch(torch.zeros(2, spec.num_params), spec)).shape[1]
        self.encoder.train(was)
        return width

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if self.normalize is None and getattr(dm, "normalize", None) is not None:
            self.normalize = dm.normalize
            self.hparams["normalize"] = {k: v.tolist() for k, v in self.normalize.stats.items()}

    def features(self, batch) -> torch.Tensor:
        """The encoder's invariant features of a raw INR batch (normalised here, as in training)."""
        return self.encoder.invariants(self.normalize(batch) if self.normalize is not None else batch)

    def embed(self, batch) -> torch.Tensor:
        return self.projection(self.features(batch))

    def _pair(self, batch):
        """Two views of every INR: of one batch through each pipeline, or of a pair of batches (two fitted
        INRs of each object) one pipeline each."""
        first, second = batch if isinstance(batch, (tuple, list)) else (batch, batch)
        def labels_free(b):  # a fresh batch: the two views never share storage, and no label reaches the loss
            params = nngraph.flat_params(b).clone()
            return nngraph.to_batch(params, nngraph.spec_of(b), torch.zeros(len(params), dtype=torch.long,
                                                                            device=params.device))
        return self.views[0](labels_free(first)), self.views[1](labels_free(second))

    def _step(self, batch, stage: str) -> torch.Tensor:
        a, b = self._pair(batch)
        loss = nt_xent(self.embed(a), self.embed(b), self.hparams.temperature)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=a.num_graphs)
        return loss

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")
        if not torch.isfinite(loss):
            raise FloatingPointError(f"contrastive loss is {loss.item()} at epoch {self.current_epoch}; the run stops: "
                                     "lower the learning rate or raise the temperature")
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay, amsgrad=hp.amsgrad)
        warmup = max(int(hp.warmup_steps), 1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's weights without its own (untrained) head, as `WeightSpaceClassifier.from_pretrained`
        loads them."""
        return {k: v for k, v in self.encoder.state_dict().items() if not k.startswith("readout.")}
