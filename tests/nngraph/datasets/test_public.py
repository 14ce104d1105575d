import json
import os
import pickle
from pathlib import Path

import pytest
import torch

import nngraph
from nngraph.datasets.public import export_splits, import_splits

SPEC = nngraph.NetworkSpec((2, 6, 5, 1))
SUBSET = Path(__file__).resolve().parents[3] / "experiments" / "data" / "fashion-mnist-subset"


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
    back = import_splits(exported, tmp_path / "again")  # its inrs.json gives the view level
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


def _exported(tmp_path, offset=0.0):
    """A fitted dataset of INRs without an output offset (the `siren` recipe), exported."""
    data = tmp_path / "data"
    nngraph.build_inr_dataset("fmnist-subset", data, root=SUBSET, limit=12, steps=2, views=2, init="siren",
                              progress=False)
    return data, export_splits(data, tmp_path / "export")


def reference_change_root(path: str, dataset_dir: Path) -> Path:
    """The public INR loaders' path rewrite, from its description: the listed path must contain the
    name of the folder holding splits.json; what follows that name is joined to that folder."""
    parts = path.split("/")
    return dataset_dir.joinpath(*parts[parts.index(dataset_dir.name) + 1:])  # ValueError if the name is absent


def reference_view(path: str) -> str:
    return path.split("/")[-3]  # the reference trainer's view of an INR


def test_the_export_is_what_the_reference_loaders_read_unmodified(tmp_path):
    data, splits = _exported(tmp_path)
    listing = json.loads(splits.read_text())
    for split in ("train", "val", "test"):
        paths = [reference_change_root(p, splits.parent) for p in listing[split]]
        assert all(p.is_file() for p in paths) and len(paths) == len(nngraph.INRDataset(data, split, views=2))
        views = [reference_view(p) for p in listing[split]]
        # its test and validation select view 0: every INR of those splits
        assert views.count("0") == len(nngraph.INRDataset(data, split))
    assert sorted({reference_view(p) for p in listing["train"]}) == ["0", "1"]
    state = torch.load(reference_change_root(listing["train"][0], splits.parent), weights_only=True)
    assert set(state) == {"seq.0.weight", "seq.0.bias", "seq.1.weight", "seq.1.bias", "seq.2.weight", "seq.2.bias",
                          "label"}


def test_export_then_import_keeps_the_function_and_the_class_names(tmp_path, capsys):
    data, splits = _exported(tmp_path)
    m = import_splits(splits, tmp_path / "back")
    assert "assumed" not in capsys.readouterr().out  # inrs.json said everything
    original = nngraph.INRDataset(data, "train", views=2)
    back = nngraph.INRDataset(tmp_path / "back", "train", views=2)
    assert back.spec == original.spec and back.spec.output_offset == 0.0  # not the public datasets' 0.5
    assert m["classes"] == original.classes and m["classes"][0] == "T-shirt/top"
    assert m["views"] == {"train": 2, "val": 1, "test": 1}
    order = lambda ds: sorted(range(len(ds)), key=lambda i: ds.params()[i].tolist())  # noqa: E731
    assert torch.equal(back.params()[order(back)], original.params()[order(original)])
    (splits.parent / "inrs.json").unlink()  # an export without its description: defaults, said aloud
    again = import_splits(splits, tmp_path / "again", view_level=2)
    out = capsys.readouterr().out
    assert "assumed activation=sine, w0=30.0, output_offset=0.5" in out and again["spec"]["output_offset"] == 0.5


def test_labels_files_and_contents_are_checked_at_the_boundary(tmp_path):
    root, _ = tree(tmp_path)
    listing = json.loads((root / "splits.json").read_text())
    for label, says in ((3_000_000, r"label must be an integer in 0\.\.99999"), (10 ** 12, "label must be"),
                        (torch.tensor(1.5), "label must be")):
        save_inr(root / "inrs/val/0.pth", label, 1)
        with pytest.raises(ValueError, match=says):
            import_splits(root / "splits.json", tmp_path / "out")
    save_inr(root / "inrs/val/0.pth", 0, 1)
    state = torch.load(root / "inrs/val/1.pth", weights_only=True)
    for dtype in (torch.complex64, torch.int64):
        torch.save({**state, "seq.0.weight": state["seq.0.weight"].to(dtype)}, root / "inrs/val/1.pth")
        with pytest.raises(ValueError, match=rf"'seq.0.weight' is {dtype}, expected real floating-point"):
            import_splits(root / "splits.json", tmp_path / "out")
    torch.save(state, root / "inrs/val/1.pth")
    with pytest.raises(ValueError, match="num_classes: 2, but a label is 2"):
        import_splits(root / "splits.json", tmp_path / "out", num_classes=2)
    (root / "inrs" / "sub").mkdir()
    twice = {**listing, "train": listing["train"] + ["/home/someone/data/inrs/sub/../train/0.pth"]}
    (root / "splits.json").write_text(json.dumps(twice))
    with pytest.raises(ValueError, match="are the same file"):
        import_splits(root / "splits.json", tmp_path / "out")
    (root / "inrs/test/0.pth").write_bytes((root / "inrs/train/1.pth").read_bytes())  # a training INR in test
    (root / "splits.json").write_text(json.dumps(listing))
    with pytest.raises(ValueError, match=r"test/0\.pth \(test\) and .*train/1\.pth \(train\) hold the same INR"):
        import_splits(root / "splits.json", tmp_path / "out")
