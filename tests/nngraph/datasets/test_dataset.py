import json
import shutil
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

import nngraph
from nngraph.datasets.shards import load_shard

SUBSET = Path(__file__).resolve().parents[3] / "experiments" / "data" / "fashion-mnist-subset"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("inrs")
    m = nngraph.build_inr_dataset("fmnist-subset", out, root=SUBSET, limit=20, steps=5, views=3, shard_size=12,
                                  progress=False)
    return out, m


def stored(out, m, split, views):
    rows = [load_shard(out / e["file"], (e["stop"] - e["start"]) * views) for e in m["shards"] if e["split"] == split]
    return torch.cat([r["params"] for r in rows]), torch.cat([r["label"] for r in rows]), torch.cat([r["view"] for r in rows])


@pytest.mark.parametrize("split,views", [("train", 1), ("train", 3), ("val", 1), ("test", 1)])
def test_items_are_graphs_of_the_stored_params(built, split, views):
    out, m = built
    ds = nngraph.INRDataset(out, split, views=views)
    params, labels, view = stored(out, m, split, views)
    assert len(ds) == len(params) == m["splits"][split]["count"] * views
    assert set(view.tolist()) == set(range(views))
    assert torch.equal(ds.params(), params) and torch.equal(ds.labels, labels)
    for i in (0, len(ds) // 2, len(ds) - 1):
        g, ref = ds[i], nngraph.to_graph(params[i], ds.spec, y=labels[i:i + 1])
        assert torch.equal(g.x, ref.x) and torch.equal(g.edge_attr, ref.edge_attr)
        assert torch.equal(g.edge_index, ref.edge_index) and g.y.dtype == torch.long and g.y.shape == (1,)
        assert g.spec == ds.spec


def test_batch_matches_pyg_collate(built):
    out, _ = built
    ds = nngraph.INRDataset(out, "train", views=2)
    idx = [5, 0, 17, 3]
    fast = ds.batch(idx)
    ref = Batch.from_data_list([ds[i] for i in idx])
    for key in ("x", "edge_index", "edge_attr", "y", "batch", "ptr", "layer"):
        assert torch.equal(fast[key], ref[key]), key
    assert ds.num_classes == 10 and ds.spec == nngraph.NetworkSpec((2, 32, 32, 1), output_offset=0.5)
    assert set(ds.stats) == {"weight_mean", "weight_std", "bias_mean", "bias_std"}


def test_pyg_loader_and_transforms(built):
    out, _ = built
    norm = nngraph.Normalize(nngraph.INRDataset(out, "train").stats)
    ds = nngraph.INRDataset(out, "test", transform=norm)
    plain = nngraph.INRDataset(out, "test")
    batch = next(iter(DataLoader(ds, batch_size=6, shuffle=False)))
    assert batch.num_graphs == 6 and torch.equal(batch.y, plain.labels[:6])
    expected = norm(Batch.from_data_list([plain[i] for i in range(6)]))
    assert torch.allclose(batch.edge_attr, expected.edge_attr) and torch.allclose(batch.x, expected.x)
    assert torch.allclose(ds.batch(range(6)).x, expected.x)  # batch() applies the transform to the batch
    assert torch.equal(ds.batch(range(6), transform=False).x, plain.batch(range(6)).x)
    parts = list(ds.batches(4))  # the whole split in order, the last batch smaller
    assert [b.num_graphs for b in parts] == [4] * (len(ds) // 4) + ([len(ds) % 4] if len(ds) % 4 else [])
    assert torch.equal(torch.cat([b.y for b in parts]), plain.labels)
    assert torch.allclose(parts[0].x, ds.batch(range(4)).x) and torch.equal(next(ds.batches(4, transform=False)).x,
                                                                            plain.batch(range(4)).x)
    sub = ds[2:5]  # PyG slicing keeps the fast path consistent
    assert len(sub) == 3 and torch.equal(sub.labels, plain.labels[2:5]) and torch.equal(sub.params(), plain.params()[2:5])


def test_errors(built, tmp_path):
    out, m = built
    with pytest.raises(ValueError, match="has 3 view"):
        nngraph.INRDataset(out, "train", views=4)
    assert len(nngraph.INRDataset(out, "val", views=3)) == m["splits"]["val"]["count"]  # val/test: view 0
    with pytest.raises(ValueError, match="split"):
        nngraph.INRDataset(out, "validation")
    with pytest.raises(ValueError, match="not a directory"):
        nngraph.INRDataset(tmp_path / "missing")
    with pytest.raises(ValueError, match="no manifest.json"):
        nngraph.INRDataset(tmp_path)
    with pytest.raises(ValueError, match="indices"):
        nngraph.INRDataset(out, "test").batch([100])
    # a manifest whose checksum does not match the shard
    for p in out.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["shards"][-1]["sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="checksum mismatch"):
        nngraph.INRDataset(tmp_path, "test")
    manifest["complete"] = False
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="unfinished build"):
        nngraph.INRDataset(tmp_path, "test")


def test_labels_outside_the_classes_are_refused(built, tmp_path):
    out, m = built
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["num_classes"] = 3  # the shards hold labels up to 9
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"label \d outside 0\.\.2"):
        nngraph.INRDataset(copy, "train")


def _edited(built, tmp_path, edit):
    """A copy of the built dataset whose manifest ``edit`` changed in place."""
    out, _ = built
    copy = tmp_path / "edited"
    shutil.copytree(out, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def _train_shards(m):
    return [e for e in m["shards"] if e["split"] == "train"]


@pytest.mark.parametrize("edit, says", [
    (lambda m: m["shards"].append(dict(_train_shards(m)[0])), "listed twice"),
    (lambda m: m["shards"].remove(_train_shards(m)[0]), "expected to start at 0"),
    (lambda m: _train_shards(m)[-1].update(stop=_train_shards(m)[-1]["stop"] - 1,
                                           rows=_train_shards(m)[-1]["rows"] - 3), "disagrees with the shard's own unit"),
    (lambda m: m["splits"]["train"].update(count=m["splits"]["train"]["count"] + 1), "its splits say"),
    (lambda m: m.update(spec={**m["spec"], "w0": 1.0}), "disagrees with the shard's own spec"),
    (lambda m: _train_shards(m)[0].update(file="../elsewhere.safetensors"), "not a file name inside"),
    (lambda m: m["views"].update(train=5), "expected to start at 0 with 5 views"),
    (lambda m: m.pop("stats"), r"missing \['stats'\]"),
])
def test_a_hand_edited_manifest_is_refused_naming_what(built, tmp_path, edit, says):
    # duplicated, dropped or shortened shard entries would otherwise train on other INRs than the
    # splits say; spec edits would read every INR as another function
    with pytest.raises(ValueError, match=says):
        nngraph.INRDataset(_edited(built, tmp_path, edit), "train")


def test_the_content_id_follows_the_content_not_the_folder(built, tmp_path):
    out, m = built
    first = nngraph.INRDataset(out, "train").content_id
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    assert nngraph.INRDataset(moved, "val").content_id == first  # any split, any folder: the dataset's id
    other = nngraph.build_inr_dataset("fmnist-subset", tmp_path / "other", root=SUBSET, limit=20, steps=4, views=3,
                                      shard_size=12, progress=False)
    assert other["config_id"] != m["config_id"]
    assert nngraph.INRDataset(tmp_path / "other", "train").content_id != first


def test_the_first_objects_of_a_split_with_all_their_views(built):
    out, m = built  # 3 views, shards of 4 objects (12 rows)
    full = nngraph.INRDataset(out, "train", views=3)
    objects = torch.cat([load_shard(out / e["file"], keys=("object",))["object"] for e in m["shards"]
                         if e["split"] == "train"])
    first = sorted(set(objects.tolist()))[:6]
    part = nngraph.INRDataset(out, "train", views=3, objects=6)
    assert len(part) == 18 and set(objects[torch.as_tensor(list(part.indices()))].tolist()) == set(first)
    picked = torch.as_tensor(list(part.indices()))
    assert torch.equal(part.params(), full.params()[picked]) and torch.equal(part.labels, full.labels[picked])
    assert torch.equal(part.batch([0, 17]).x, full.batch(picked[[0, 17]]).x)
    assert len(nngraph.INRDataset(out, "train", views=1, objects=6)) == 6
    with pytest.raises(ValueError, match=r"objects: expected 1\.\."):
        nngraph.INRDataset(out, "train", objects=10 ** 6)


NPZ = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "modelnet10_pointclouds.npz"


@pytest.mark.skipif(not NPZ.exists(), reason="../shared/data/modelnet10_pointclouds.npz not present")
@pytest.mark.parametrize("views", [1, 2])
def test_the_first_objects_of_a_split_ordered_by_class_are_refused_where_they_leave_classes_out(tmp_path, views):
    # ModelNet10's training shapes come class by class: 106 bathtubs, then beds
    nngraph.build_inr_dataset("modelnet10", tmp_path, root=NPZ, limit=112, views=views, steps=1, sdf_points=256,
                              points_per_step=64, progress=False)
    full = nngraph.INRDataset(tmp_path, "train", views=views)
    assert full.labels.unique().tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"objects: the first 50 train objects of .* hold 1 of the split's 2 classes"):
        nngraph.INRDataset(tmp_path, "train", views=views, objects=50)
    count = json.loads((tmp_path / "manifest.json").read_text())["splits"]["train"]["count"]
    assert len(nngraph.INRDataset(tmp_path, "train", views=views, objects=count)) == count * views
