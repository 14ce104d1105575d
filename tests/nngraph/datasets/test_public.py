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


def _render(flat, spec):
    net = nngraph.to_module(nngraph.to_graph(flat, spec))
    with torch.no_grad():
        return net(nngraph.coordinate_grid(28, 28))


def dwsnets_tree(tmp_path, names=False):
    """DWSNets' layout as its ``generate_data_splits.py`` describes it: the INR files carry no label;
    ``splits.json`` is ``{split: {"path": [...], "label": [...]}}`` with each label the file's class
    folder as a string, and the paths those of the machine the files were fitted on."""
    root, listing, params = tmp_path / "dws", {s: {"path": [], "label": []} for s in ("train", "val", "test")}, {}
    classes = ["boot", "coat", "shirt"]
    for split, n in (("train", 5), ("val", 2), ("test", 3)):
        for i in range(n):
            c = (i + len(split)) % 3
            cls = classes[c] if names else str(c)
            rel = f"mnist-inrs/{cls}/{split}_{i}/checkpoints/model_final.pth"
            net = nngraph.Siren(SPEC, generator=torch.Generator().manual_seed(7 * i + len(split)))
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            torch.save(net.state_dict(), root / rel)  # no label in the file
            params[rel] = (nngraph.flat_params(nngraph.to_graph(net)).reshape(-1), c)
            listing[split]["path"].append(f"/cluster/home/author/data/{rel}")
            listing[split]["label"].append(cls)
    (root / "splits.json").write_text(json.dumps(listing))
    return root, params


@pytest.mark.parametrize("names", [False, True])
def test_dwsnets_splits_with_labels_in_the_json_import_and_render_as_the_source(tmp_path, names):
    root, params = dwsnets_tree(tmp_path, names)
    m = import_splits(root / "splits.json", tmp_path / "out", say=lambda *_: None)
    spec = nngraph.NetworkSpec.from_dict(m["spec"])
    assert [m["splits"][s]["count"] for s in ("train", "val", "test")] == [5, 2, 3]
    assert m["classes"] == (["boot", "coat", "shirt"] if names else ["0", "1", "2"])
    for split in ("train", "val", "test"):
        ds = nngraph.INRDataset(tmp_path / "out", split)
        # objects are sorted by path: match each imported INR to its source by its parameters
        source = {tuple(p.tolist()): (p, c) for rel, (p, c) in params.items() if f"/{split}_" in rel}
        assert len(ds) == len(source)
        for flat, label in zip(ds.params(), ds.labels.tolist()):
            p, c = source[tuple(flat.tolist())]
            assert label == c
            assert (_render(flat, spec) - _render(p, spec)).abs().max() < 1e-6


def test_the_list_form_with_labels_in_files_and_foreign_absolute_paths_renders_as_the_source(tmp_path):
    root, params = tree(tmp_path)  # the augmentation paper's form; paths of /home/someone
    m = import_splits(root / "splits.json", tmp_path / "out", say=lambda *_: None)
    spec = nngraph.NetworkSpec.from_dict(m["spec"])
    train = nngraph.INRDataset(tmp_path / "out", "train")
    for k, rel in enumerate(f"inrs/train/{i}.pth" for i in range(4)):
        w, b = params[rel]
        flat = torch.cat([t.reshape(-1) for t in w + b])
        assert train.labels[k] == k % 3
        assert (_render(train.params()[k], spec) - _render(flat, spec)).abs().max() < 1e-6


def test_a_label_in_the_file_that_the_json_contradicts_is_refused(tmp_path):
    root, params = dwsnets_tree(tmp_path)
    listing = json.loads((root / "splits.json").read_text())
    first = listing["train"]["path"][0].split("/data/", 1)[1]
    state = torch.load(root / first, weights_only=True)
    torch.save({**state, "label": 2 if listing["train"]["label"][0] != "2" else 1}, root / first)
    with pytest.raises(ValueError, match="splits.json lists it with label"):
        import_splits(root / "splits.json", tmp_path / "out", say=lambda *_: None)


def test_statistics_round_trip_through_dwsnets_layout(tmp_path):
    root, _ = tree(tmp_path)
    import_splits(root / "splits.json", tmp_path / "out", say=lambda *_: None)
    from nngraph.datasets.public import read_statistics, write_statistics
    path = write_statistics(tmp_path / "out", tmp_path / "statistics.pth")
    raw = torch.load(path, weights_only=True)  # the layout DWSNets' loaders index
    assert [tuple(t.shape) for t in raw["weights"]["mean"]] == [(2, 6, 1), (6, 5, 1), (5, 1, 1)]
    assert [tuple(t.shape) for t in raw["biases"]["std"]] == [(6, 1), (5, 1), (1, 1)]
    train = nngraph.INRDataset(tmp_path / "out", "train")
    pooled, exact = read_statistics(path, train.spec), train.stats
    n = len(train)
    for k in exact:  # exact up to the unbiased std's n / (n - 1)
        tol = 1e-5 if "mean" in k else 0.5
        for a, b in zip(pooled[k], exact[k]):
            if "std" in k:
                assert ((n - 1) / n) ** 0.5 * 0.999 <= b / a <= 1.001 or abs(a - b) < 1e-6, (k, a, b)
            else:
                assert abs(a - b) <= tol, (k, a, b)
    again = import_splits(root / "splits.json", tmp_path / "with-stats", say=lambda *_: None, statistics=path)
    assert again["stats"] == pooled
    with pytest.raises(ValueError, match="needs"):
        read_statistics(path, nngraph.NetworkSpec((2, 8, 5, 1)))


def test_write_dataset_from_tensors_and_graphs(tmp_path):
    from nngraph.datasets.public import write_dataset
    torch.manual_seed(0)
    params = torch.randn(10, SPEC.num_params) * 0.1
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    m = write_dataset(params, labels, SPEC, tmp_path / "a", splits={"train": range(6), "val": [6, 7], "test": [8, 9]})
    train = nngraph.INRDataset(tmp_path / "a", "train")
    assert torch.equal(train.params(), params[:6]) and train.labels.tolist() == labels[:6].tolist()
    assert nngraph.INRDataset(tmp_path / "a", "test").labels.tolist() == [2, 0] and m["num_classes"] == 3
    graphs = [nngraph.to_graph(p, SPEC) for p in params]
    write_dataset(graphs, labels, None, tmp_path / "b", splits={"train": range(6), "val": [6, 7], "test": [8, 9]})
    assert torch.equal(nngraph.INRDataset(tmp_path / "b", "train").params(), params[:6])
    two = write_dataset(params, labels, SPEC, tmp_path / "c", objects=torch.arange(10) // 2,
                        splits={"train": range(6), "val": [6, 7], "test": [8, 9]})
    assert two["views"]["train"] == 2 and len(nngraph.INRDataset(tmp_path / "c", "train", views=2)) == 6
    with pytest.raises(ValueError, match="listed twice"):
        write_dataset(params, labels, SPEC, tmp_path / "d", splits={"train": [0, 1], "val": [1], "test": [2]})
    with pytest.raises(ValueError, match="labels: expected 10"):
        write_dataset(params, labels[:3], SPEC, tmp_path / "d")


def test_an_export_that_fails_part_way_leaves_the_earlier_one_whole(tmp_path, monkeypatch):
    root, _ = tree(tmp_path)
    import_splits(root / "splits.json", tmp_path / "out", say=lambda *_: None)
    first = export_splits(tmp_path / "out", tmp_path / "exported")
    before = {p: p.read_bytes() for p in (tmp_path / "exported").rglob("*") if p.is_file()}
    from nngraph.datasets import public
    calls = {"n": 0}
    real = torch.save

    def full_disk(obj, path, *a, **k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file")
        return real(obj, path, *a, **k)
    monkeypatch.setattr(public.torch, "save", full_disk)
    with pytest.raises(OSError, match=r"could not write .*inr\.pth \(.*PytorchStreamWriter failed"):
        export_splits(tmp_path / "out", tmp_path / "exported")
    monkeypatch.setattr(public.torch, "save", real)
    after = {p: p.read_bytes() for p in (tmp_path / "exported").rglob("*") if p.is_file()}
    assert after == before and not list(tmp_path.glob(".exported.*"))
    import_splits(first, tmp_path / "again", say=lambda *_: None)


def test_an_export_whose_files_changed_is_refused_and_an_unknown_version_too(tmp_path):
    root, _ = tree(tmp_path)
    import_splits(root / "splits.json", tmp_path / "out", say=lambda *_: None)
    exported = export_splits(tmp_path / "out", tmp_path / "exported")
    one = next((tmp_path / "exported").rglob("inr.pth"))
    state = torch.load(one, weights_only=True)
    state["seq.0.bias"] = state["seq.0.bias"] + 1
    torch.save(state, one)
    with pytest.raises(ValueError, match="not the ones its inrs.json was written with"):
        import_splits(exported, tmp_path / "again", say=lambda *_: None)
    info = json.loads((tmp_path / "exported" / "inrs.json").read_text())
    (tmp_path / "exported" / "inrs.json").write_text(json.dumps({**info, "version": 9}))
    with pytest.raises(ValueError, match="version 9, this library reads versions"):
        import_splits(exported, tmp_path / "again", say=lambda *_: None)


def test_to_graph_reads_a_file_with_a_label_and_names_what_it_skipped(tmp_path):
    net = nngraph.Siren(SPEC, generator=torch.Generator().manual_seed(3))
    torch.save({**net.state_dict(), "label": 4}, tmp_path / "a.pth")
    g = nngraph.to_graph(tmp_path / "a.pth", spec=SPEC)
    assert g.y.tolist() == [4] and torch.equal(nngraph.flat_params(g), nngraph.flat_params(nngraph.to_graph(net)))
    torch.save({**net.state_dict(), "label": 4, "epoch": torch.tensor(3)}, tmp_path / "b.pth")
    with pytest.warns(UserWarning, match="skipped entries that are not layer weights or biases: epoch"):
        nngraph.to_graph(tmp_path / "b.pth", spec=SPEC)
