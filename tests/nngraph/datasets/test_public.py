import json
import os
import pickle

import pytest
import torch

import nngraph
from nngraph.datasets.public import export_splits, import_splits

SPEC = nngraph.NetworkSpec((2, 6, 5, 1))


def save_inr(path, label, seed, spec=SPEC):
    net = nngraph.Siren(spec, generator=torch.Generator().manual_seed(seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**net.state_dict(), "label": label}, path)
    return nngraph.to_params(nngraph.to_graph(net))


def tree(tmp_path, views=1):
    """A public-layout dataset under tmp_path/ds whose splits.json lists absolute paths of another machine."""
    root, listing, params = tmp_path / "ds", {s: [] for s in ("train", "val", "test")}, {}
    for split, n in (("train", 4), ("val", 2), ("test", 3)):
        for i in range(n):
            for v in range(views if split == "train" else 1):
                rel = f"inrs/{split}/{i}/{v}/model.pth" if views > 1 else f"inrs/{split}/{i}.pth"
                params[rel] = save_inr(root / rel, label=i % 3, seed=100 * i + v + len(split))
                listing[split].append(f"/home/someone/data/{rel}")
    (root / "splits.json").write_text(json.dumps(listing))
    return root, params


def test_import_reads_the_layout_and_trains_unchanged(tmp_path):
    root, params = tree(tmp_path)
    m = import_splits(root / "splits.json", tmp_path / "out")
    assert m["spec"] == nngraph.NetworkSpec((2, 6, 5, 1), output_offset=0.5).to_dict() and m["num_classes"] == 3
    train = nngraph.INRDataset(tmp_path / "out", "train")
    assert len(train) == 4 and train.labels.tolist() == [0, 1, 2, 0]
    w, b = params["inrs/train/1.pth"]
    assert torch.equal(nngraph.flat_params(train.batch([1]))[0], torch.cat([t.reshape(-1) for t in w + b]))
    assert len(nngraph.INRDataset(tmp_path / "out", "test")) == 3


def test_views_come_from_a_path_component_and_round_trip_through_export(tmp_path):
    root, _ = tree(tmp_path, views=2)
    m = import_splits(root / "splits.json", tmp_path / "out", view_level=1)
    assert m["views"] == {"train": 2, "val": 1, "test": 1}
    two = nngraph.INRDataset(tmp_path / "out", "train", views=2)
    assert len(two) == 8 and len(nngraph.INRDataset(tmp_path / "out", "train")) == 4
    exported = export_splits(tmp_path / "out", tmp_path / "exported")
    back = import_splits(exported, tmp_path / "again", view_level=1)
    again = nngraph.INRDataset(tmp_path / "again", "train", views=2)
    assert back["views"] == m["views"] and torch.equal(again.params(), two.params())
    assert torch.equal(again.labels, two.labels)


def test_a_missing_file_is_named(tmp_path):
    root, _ = tree(tmp_path)
    os.remove(root / "inrs/val/1.pth")
    with pytest.raises(ValueError, match=r"/home/someone/data/inrs/val/1\.pth: listed in .* but not found"):
        import_splits(root / "splits.json", tmp_path / "out")


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > payload-ran",))


def test_a_pickle_payload_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root, _ = tree(tmp_path)
    with open(root / "inrs/test/2.pth", "wb") as f:
        pickle.dump({"label": 1, "x": Payload()}, f)
    with pytest.raises(ValueError, match=r"inrs/test/2\.pth: not a readable weights-only torch file"):
        import_splits(root / "splits.json", tmp_path / "out")
    assert not (tmp_path / "payload-ran").exists()


def test_mixed_architectures_are_refused_naming_both_files(tmp_path):
    root, _ = tree(tmp_path)
    save_inr(root / "inrs/test/0.pth", 0, 1, nngraph.NetworkSpec((2, 7, 5, 1)))
    with pytest.raises(ValueError, match=r"inrs/test/0\.pth: a 2-7-5-1 network, but .*inrs/train/0\.pth is 2-6-5-1"):
        import_splits(root / "splits.json", tmp_path / "out")


def test_bad_files_and_listings(tmp_path):
    root, _ = tree(tmp_path)
    torch.save({"seq.0.weight": torch.zeros(6, 2)}, root / "inrs/val/0.pth")
    with pytest.raises(ValueError, match=r"inrs/val/0\.pth: expected a state dict with"):
        import_splits(root / "splits.json", tmp_path / "out")
    (root / "splits.json").write_text(json.dumps({"train": []}))
    with pytest.raises(ValueError, match="'train', 'val' and 'test'"):
        import_splits(root / "splits.json", tmp_path / "out")
