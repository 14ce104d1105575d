"""Data for training: an INR dataset folder, its splits, the augmentation pipeline and the loaders.
The data module owns the augmentation; `WeightSpaceClassifier` takes it (and the normalisation)
from ``trainer.datamodule`` when it is given none itself."""
from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

import nngraph
from nngraph import augment
from nngraph.datasets.shards import read_manifest


class INRDataModule(L.LightningDataModule):
    """An INR dataset folder (`nngraph.build_inr_dataset`, `nngraph.write_dataset`, an import) for
    training. ``augmentation``: names as `nngraph.augment.build` takes them (``"siren_negation+mixup"``),
    with ``augment_options`` by name. ``augment_on="device"`` (default) batches straight from the
    parameter tensor and augments whole batches on the training device (the module's
    ``on_after_batch_transfer``); ``"loader"`` applies per-sample transforms in the loader, PyG style,
    with mixup partners drawn from the dataset. ``views_as_positives``: training batches are pairs of
    batches holding two different fitted views of the same objects (contrastive pre-training).
    ``spec`` and ``num_classes`` are read from the
    manifest on construction, so a CLI can link them to the model's before ``setup``."""

    def __init__(self, data_dir: str | Path, views: int = 1, batch_size: int = 128, augmentation: str = "none",
                 augment_on: str = "device", num_workers: int = 0, augment_options: dict | None = None,
                 train_objects: int | None = None, views_as_positives: bool = False):
        super().__init__()
        if not Path(data_dir).is_dir():
            raise ValueError(f"data_dir: {data_dir} is not a directory; write one with `python -m experiments.fit_inrs`")
        if augment_on not in ("device", "loader"):
            raise ValueError(f"augment_on: expected 'device' or 'loader', got {augment_on!r}")
        self.data_dir, self.views, self.batch_size = Path(data_dir), views, batch_size
        self.augmentation, self.augment_on, self.num_workers = augmentation, augment_on, num_workers
        self.augment_options = augment_options or {}
        self.train_objects = train_objects  # the first N training objects only (None: all)
        # Contrastive pre-training on several fitted INRs per object: a training batch is a pair of
        # batches, two different views of the same objects (`ContrastivePretrainer`).
        if views_as_positives and views < 2:
            raise ValueError(f"views_as_positives: needs at least 2 views per object, got views={views}")
        self.views_as_positives = views_as_positives
        self.train = self.val = self.test = None
        self.batch_transform = self.sample_transform = self.normalize = None
        manifest = read_manifest(self.data_dir)
        self.spec = nngraph.NetworkSpec.from_dict(manifest["spec"])
        self.num_classes = int(manifest["num_classes"])
        augment.build(augmentation, self.num_classes, options=self.augment_options)  # a bad name fails here
        self.save_hyperparameters({"data_dir": str(data_dir), "views": views, "batch_size": batch_size,
                                   "augmentation": augmentation, "augment_options": self.augment_options,
                                   "augment_on": augment_on, "train_objects": train_objects})

    def setup(self, stage: str | None = None):
        if self.train is not None:
            return
        self.train = nngraph.INRDataset(self.data_dir, "train", views=self.views, objects=self.train_objects)
        self.val = nngraph.INRDataset(self.data_dir, "val")
        self.test = nngraph.INRDataset(self.data_dir, "test")
        for split, ds in (("training", self.train), ("validation", self.val), ("test", self.test)):
            if len(ds) == 0:  # the best-epoch choice and the reported accuracy would be undefined
                raise ValueError(f"data_dir: {self.data_dir} has no {split} INRs; build it with a larger --limit")
        if (self.train.spec, self.train.num_classes) != (self.spec, self.num_classes):
            raise ValueError(f"data_dir: {self.data_dir} changed since this data module read its manifest")
        self.normalize = nngraph.Normalize(self.train.stats)
        on_device = self.augment_on == "device"
        transform = augment.build(self.augmentation, self.num_classes, dataset=None if on_device else self.train,
                                  options=self.augment_options)
        self.batch_transform = transform if on_device else None
        self.sample_transform = None if on_device else transform

    def _batches(self, dataset, train: bool) -> DataLoader:
        # Index batches -> one Batch each: slicing the parameter tensor, no per-graph objects.
        return DataLoader(range(len(dataset)), batch_size=self.batch_size, shuffle=train,
                          drop_last=self._drop_last(dataset) if train else False, collate_fn=dataset.batch,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def _drop_last(self, dataset) -> bool:
        # A last training batch of one sample would break batch norm (DWSNet); shuffled epochs
        # still see every sample.
        return len(dataset) > self.batch_size

    def _pairs(self, dataset) -> DataLoader:
        ids = dataset.object_ids
        objects = ids.unique()
        rows = torch.empty(len(objects), self.views, dtype=torch.long)  # [object, view] -> item index
        order = torch.searchsorted(objects, ids)
        rows[order, _view_index(ids)] = torch.arange(len(ids))

        def collate(picked):
            picked = torch.as_tensor(picked)
            first = torch.randint(self.views, (len(picked),))
            second = (first + torch.randint(1, self.views, (len(picked),))) % self.views  # another view
            return dataset.batch(rows[picked, first]), dataset.batch(rows[picked, second])
        return DataLoader(range(len(objects)), batch_size=self.batch_size, shuffle=True,
                          drop_last=len(objects) > self.batch_size, collate_fn=collate, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self):
        if self.views_as_positives:
            return self._pairs(self.train)
        if self.sample_transform is None:
            return self._batches(self.train, train=True)
        train = nngraph.INRDataset(self.data_dir, "train", views=self.views, transform=self.sample_transform,
                                   objects=self.train_objects)
        return nngraph.DataLoader(train, batch_size=self.batch_size, shuffle=True, drop_last=self._drop_last(train),
                                  num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self):
        return self._batches(self.val, train=False)

    def test_dataloader(self):
        return self._batches(self.test, train=False)


def _view_index(ids: torch.Tensor) -> torch.Tensor:
    """Each item's view: its rank among the items of its object, in item order."""
    order = torch.argsort(ids, stable=True)
    sorted_ids = ids[order]
    first = torch.searchsorted(sorted_ids, sorted_ids)  # where each object's run starts
    rank = torch.empty_like(ids)
    rank[order] = torch.arange(len(ids)) - first
    return rank
