"""The training recipe: loss on hard or soft labels, AdamW (amsgrad, as the reference) with linear
warm-up, accuracy."""
from __future__ import annotations

import warnings

import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics
from torch_geometric.data import Batch

import nngraph
from nngraph.models import MODELS
from nngraph.models.registry import build_checked

# Appendix C: RT (the GNN) AdamW lr 1e-3 with 1000 warm-up steps; DWS AdamW lr 5e-3; other models 1e-3, none.
DEFAULT_LR = {"rt": 1e-3, "dws": 5e-3}
DEFAULT_WARMUP = {"rt": 1000, "dws": 0}


class WeightSpaceClassifier(L.LightningModule):
    """Classifies INR graphs. ``batch_transform`` (augmentation) runs on whole batches on the
    training device; ``normalize`` (per-layer standardisation, a `nngraph.Normalize` or its stats)
    runs after it, in every stage. Either left out is taken from the trainer's data module (an
    `INRDataModule` owns both) when fitting starts, and the statistics then go into the checkpoint.

    ``model``: a registered name (`nngraph.models.MODELS`, built with ``model_kwargs``) or your own
    ``nn.Module`` mapping a graph batch to logits. A checkpoint holds the spec and the normalisation
    statistics with the weights, so ``WeightSpaceClassifier.load_from_checkpoint(path,
    weights_only=True)`` (with ``model=`` your module, for one of yours) classifies raw INR batches as
    the trained run did."""

    def __init__(self, spec: nngraph.NetworkSpec | dict, num_classes: int, model: str | torch.nn.Module = "rt",
                 lr: float | None = None, weight_decay: float = 5e-4, warmup_steps: int | None = None,
                 model_kwargs: dict | None = None, batch_transform=None, normalize: nngraph.Normalize | dict | None = None,
                 amsgrad: bool = True):
        super().__init__()
        name = type(model).__name__ if isinstance(model, torch.nn.Module) else model
        if isinstance(model, torch.nn.Module) and model_kwargs:
            raise ValueError("model_kwargs: given with a module; build the module with them instead")
        if not isinstance(model, torch.nn.Module) and model not in MODELS:
            raise ValueError(f"model: expected one of {sorted(MODELS)} or an nn.Module, got {model!r} (loading a "
                             "checkpoint of your own module: pass model=<the module>)")
        if isinstance(spec, dict):  # as saved in a checkpoint's hyperparameters
            spec = nngraph.NetworkSpec.from_dict(spec)
        if isinstance(normalize, dict):
            normalize = nngraph.Normalize(normalize)
        stats = None if normalize is None else {k: v.tolist() for k, v in normalize.stats.items()}
        self.save_hyperparameters({"spec": spec.to_dict(), "num_classes": num_classes, "model": name,
                                   "lr": lr or DEFAULT_LR.get(name, 1e-3), "weight_decay": weight_decay,
                                   "warmup_steps": DEFAULT_WARMUP.get(name, 0) if warmup_steps is None else warmup_steps,
                                   "model_kwargs": model_kwargs or {}, "normalize": stats, "amsgrad": amsgrad})
        if isinstance(model, torch.nn.Module):
            self.net = model
        else:
            try:
                self.net = build_checked(model, spec, num_classes, **(model_kwargs or {}))
            except TypeError as e:  # an option the model does not take
                raise ValueError(f"model_kwargs: {e}") from None
            if not isinstance(self.net, torch.nn.Module) or not any(True for _ in self.net.parameters()):
                raise ValueError(f"model: the factory registered as {model!r} returned {type(self.net).__name__}, "
                                 "expected a torch.nn.Module with parameters")
        self.batch_transform, self.normalize = batch_transform, normalize
        self.accuracy = torch.nn.ModuleDict({s: torchmetrics.Accuracy("multiclass", num_classes=num_classes)
                                             for s in ("train_", "val_", "test_")})

    @classmethod
    def from_pretrained(cls, checkpoint, num_classes: int, freeze_encoder: bool = False, **kwargs) -> "WeightSpaceClassifier":
        """A classifier whose encoder starts from a `ContrastivePretrainer` checkpoint (read weights
        only): the same model, sizes and normalisation, a new head for ``num_classes``; every encoder
        weight is the pre-trained one (checked). ``freeze_encoder``: train the head alone."""
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        hp = state.get("hyper_parameters", {}) if isinstance(state, dict) else {}
        if "view" not in hp or "state_dict" not in state:
            raise ValueError(f"checkpoint: {checkpoint} is not a ContrastivePretrainer checkpoint")
        module = cls(hp["spec"], num_classes, model=hp["model"], model_kwargs=hp["model_kwargs"],
                     normalize=hp.get("normalize"), **kwargs)
        encoder = {k[len("encoder."):]: v for k, v in state["state_dict"].items()
                   if k.startswith("encoder.") and not k.startswith("encoder.readout.")}
        missing, unexpected = module.net.load_state_dict(encoder, strict=False)
        left = [k for k in missing if not k.startswith("readout.")]
        if left or unexpected:
            raise ValueError(f"checkpoint: {checkpoint} does not fit the model: missing {left}, unexpected {unexpected}")
        if freeze_encoder:
            for name, p in module.net.named_parameters():
                p.requires_grad_(name.startswith("readout."))
        module.hparams["pretrained"] = str(checkpoint)
        return module

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)  # set up before the module, by the trainer
        if dm is None:
            return
        if self.batch_transform is None and getattr(dm, "batch_transform", None) is not None:
            self.batch_transform = dm.batch_transform
        if self.normalize is None and getattr(dm, "normalize", None) is not None:
            self.normalize = dm.normalize
            self.hparams["normalize"] = {k: v.tolist() for k, v in self.normalize.stats.items()}

    def on_fit_start(self) -> None:
        total = self.trainer.estimated_stepping_batches
        warmup = int(self.hparams.warmup_steps)
        if warmup > total:
            warnings.warn(f"warmup_steps: {warmup} warm-up steps, but the run takes {total}: the learning rate never "
                          f"reaches {self.hparams.lr}", stacklevel=2)

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        if self.trainer is not None and self.trainer.training and self.batch_transform is not None:
            batch = self.batch_transform(batch)
        return self.normalize(batch) if self.normalize is not None else batch

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.net(batch)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        logits = self(batch)
        y = batch.y
        soft = y.is_floating_point()
        loss = F.cross_entropy(logits, y)  # probabilities as targets for mixup's soft labels
        hard = y.argmax(dim=1) if soft else y
        acc = self.accuracy[stage + "_"]
        acc(logits, hard)
        n = logits.shape[0]
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=stage != "test", batch_size=n)
        self.log(f"{stage}_acc", acc, on_step=False, on_epoch=True, prog_bar=stage != "train", batch_size=n)
        return loss

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")
        if not torch.isfinite(loss):  # a diverged run would otherwise "finish" with NaN results
            raise FloatingPointError(f"training loss is {loss.item()} at epoch {self.current_epoch}, step "
                                     f"{self.global_step}; the run stops: lower the learning rate or the "
                                     "augmentation's strength")
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay,
                                amsgrad=hp.get("amsgrad", False))
        warmup = max(int(hp.warmup_steps), 1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
