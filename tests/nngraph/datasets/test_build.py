import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import nngraph
from nngraph.datasets.build import DEFAULT_INIT, OUTPUT_OFFSET, build_inr_dataset, inr_seed, share_units
from nngraph.datasets.fitting import fit_inrs
from nngraph.datasets.shards import content_id as content_id_of, load_shard, read_manifest, read_shard_metadata
from nngraph.datasets.sources import load_fashion_mnist, write_off

REPO = Path(__file__).resolve().parents[3]
SUBSET = REPO / "experiments" / "data" / "fashion-mnist-subset"
NPZ = REPO.parent / "shared" / "data" / "modelnet10_pointclouds.npz"
KW = dict(root=SUBSET, limit=24, steps=15, views=2, shard_size=8, progress=False)


class Killed(Exception):
    pass


def files(folder):
    return {p.name: p.read_bytes() for p in Path(folder).iterdir()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return out, build_inr_dataset("fmnist-subset", out, **KW)


def test_manifest_splits_and_rows(reference):
    out, m = reference
    assert m["complete"] and read_manifest(out) == m
    splits = m["splits"]
    assert [splits[s]["count"] for s in ("train", "val", "test")] == [22, 2, 24]  # 24 * 5/60 = 2 for validation
    assert sorted(splits["train"]["objects"] + splits["val"]["objects"]) == list(range(24))
    assert m["views"] == {"train": 2, "val": 1, "test": 1}
    assert sum(e["rows"] for e in m["shards"] if e["split"] == "train") == 44
    assert m["spec"]["layer_sizes"] == [2, 32, 32, 1] and m["fit"]["lr"] == 5e-4 and m["fit"]["steps"] == 15
    assert set(m["stats"]) == {"weight_mean", "weight_std", "bias_mean", "bias_std"} and len(m["stats"]["bias_std"]) == 3
    shard = load_shard(out / m["shards"][0]["file"])
    assert torch.equal(shard["view"], torch.tensor([0] * 4 + [1] * 4))  # view-major rows
    objs = splits["train"]["objects"][:4]
    assert torch.equal(shard["object"], torch.tensor(objs * 2))
    labels = load_fashion_mnist(SUBSET, "train").labels
    assert torch.equal(shard["label"], torch.from_numpy(labels[objs]).repeat(2))


def test_rows_are_reproducible_fits(reference):
    """A stored INR is fit_inrs of its image, with the recipe's init and spec, from the seed
    inr_seed(seed, source split, object, view)."""
    out, m = reference
    shard = load_shard(out / m["shards"][0]["file"])
    assert m["fit"]["init"] == DEFAULT_INIT and m["spec"]["output_offset"] == OUTPUT_OFFSET[DEFAULT_INIT]
    image = torch.from_numpy(load_fashion_mnist(SUBSET, "train").images[int(shard["object"][5])]).float().div(255)
    again = fit_inrs(nngraph.coordinate_grid(28, 28), image.reshape(1, -1, 1), nngraph.NetworkSpec.from_dict(m["spec"]),
                     steps=15, seeds=[inr_seed(0, "train", int(shard["object"][5]), 1)], init=DEFAULT_INIT,
                     progress=False)
    assert torch.allclose(again.params[0], shard["params"][5], atol=1e-6)


def test_killed_build_resumes_to_the_same_shards(reference, tmp_path):
    ref, _ = reference
    count = [0]

    def kill_after_second(path):
        count[0] += 1
        if count[0] == 2:
            raise Killed

    with pytest.raises(Killed):
        build_inr_dataset("fmnist-subset", tmp_path, on_shard=kill_after_second, **KW)
    assert not read_manifest(tmp_path)["complete"]
    # a write cut short leaves a temp file; the last finished shard vanished too
    (tmp_path / ".train-00002.safetensors.x1y2.tmp").write_bytes(b"half a shard")
    (tmp_path / "train-00001.safetensors").unlink()
    written = []
    build_inr_dataset("fmnist-subset", tmp_path, on_shard=written.append, **KW)
    assert [p.name for p in written][:2] == ["train-00001.safetensors", "train-00002.safetensors"]
    assert "train-00000.safetensors" not in [p.name for p in written]  # verified and kept
    assert files(tmp_path) == files(ref)


def test_damaged_shard_is_refitted(reference, tmp_path):
    ref, m = reference
    for name, data in files(ref).items():
        (tmp_path / name).write_bytes(data)
    victim = tmp_path / m["shards"][1]["file"]
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0xFF
    victim.write_bytes(bytes(data))
    written = []
    build_inr_dataset("fmnist-subset", tmp_path, on_shard=written.append, **KW)
    assert written == [victim]
    assert files(tmp_path) == files(ref)


def test_other_settings_into_a_used_folder(reference):
    out, _ = reference
    with pytest.raises(ValueError, match="other settings"):
        build_inr_dataset("fmnist-subset", out, **{**KW, "steps": 16})


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="dataset"):
        build_inr_dataset("cifar", tmp_path)
    with pytest.raises(ValueError, match="root"):
        build_inr_dataset("mnist", tmp_path)
    with pytest.raises(ValueError, match="views"):
        build_inr_dataset("fmnist-subset", tmp_path, root=SUBSET, views=0)


def test_modelnet40_off_layout(tmp_path):
    root = tmp_path / "ModelNet40"
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    for c, cls in enumerate(("box", "plank")):
        for split in ("train", "test"):
            (root / cls / split).mkdir(parents=True)
            for i in range(2):
                scale = np.array([1.0, 1.0, 1.0 if cls == "box" else 0.2]) * (i + 1) * 10
                write_off(root / cls / split / f"{cls}_{i + 1:04d}.off", v * scale + 100, f, modelnet_header=True)
    m = build_inr_dataset("modelnet40", tmp_path / "out", root=root, steps=3, sdf_points=2048,
                          points_per_step=512, progress=False)
    assert m["spec"]["layer_sizes"] == [3, 32, 32, 32, 32, 32, 1] and m["fit"]["optimizer"] == "adamw"
    assert m["classes"] == ["box", "plank"]
    assert [m["splits"][s]["count"] for s in ("train", "val", "test")] == [4, 0, 4]
    ds = nngraph.INRDataset(tmp_path / "out", "test")
    assert torch.equal(ds.labels, torch.tensor([0, 0, 1, 1]))
    assert nngraph.render_sdf(ds.batch([0]), resolution=8).shape == (1, 8, 8, 8)


@pytest.mark.skipif(not NPZ.exists(), reason="../shared/data/modelnet10_pointclouds.npz not present")
def test_modelnet10_npz(tmp_path):
    m = build_inr_dataset("modelnet10", tmp_path, root=NPZ, limit=3, steps=2, sdf_points=1024,
                          points_per_step=256, progress=False)
    assert m["num_classes"] == 10 and m["splits"]["test"]["count"] == 3
    assert len(nngraph.INRDataset(tmp_path, "train")) == m["splits"]["train"]["count"]


@pytest.mark.parametrize("faces", ["none", "degenerate"])
def test_a_bad_mesh_is_named_in_the_error(tmp_path, faces):
    root = tmp_path / "ModelNet40"
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    good = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])
    bad = np.zeros((0, 3), int) if faces == "none" else np.array([[0, 1, 1]])
    for split in ("train", "test"):
        (root / "box" / split).mkdir(parents=True)
        write_off(root / "box" / split / "box_0001.off", v, good)
    write_off(root / "box" / "test" / "box_0002.off", v, bad)
    with pytest.raises(ValueError, match=r"box_0002\.off: .*no area"):
        build_inr_dataset("modelnet40", tmp_path / "out", root=root, steps=1, sdf_points=256, points_per_step=64,
                          progress=False)


@pytest.mark.parametrize("name", ["steps", "shard_size", "batch_size", "sdf_points", "points_per_step"])
@pytest.mark.parametrize("value", [0, -1, 2.5])
def test_counts_must_be_positive_integers(tmp_path, name, value):
    with pytest.raises(ValueError, match=rf"^{name}: expected a positive integer"):
        build_inr_dataset("fmnist-subset", tmp_path, root=SUBSET, **{name: value})


def test_resume_without_the_manifest_refits_a_damaged_shard(reference, tmp_path):
    ref, m = reference
    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    (out / "manifest.json").unlink()
    first = out / m["shards"][0]["file"]
    tensors = load_shard(first)
    tensors["params"][0, 0] += 1.0  # a damaged row in an otherwise well-formed shard
    meta = read_shard_metadata(first)
    save_file(tensors, str(first), {"nngraph": json.dumps(meta, sort_keys=True)})  # its old digest kept
    again = build_inr_dataset("fmnist-subset", out, **KW)
    assert again["shards"][0]["sha256"] == m["shards"][0]["sha256"]  # refitted to the original bytes


def test_a_build_spread_over_parts_equals_one_process(reference, tmp_path):
    ref, m = reference
    parts = [build_inr_dataset("fmnist-subset", tmp_path, rank=r, world_size=3, **KW) for r in (1, 0, 2)]
    assert [p["complete"] for p in parts] == [False, False, True]  # the last part to finish writes the manifest
    assert files(tmp_path) == files(ref)
    # one part interrupted: one of its shards is missing; it resumes alone and the manifest follows
    lost = m["shards"][1]["file"]
    owner = next(r for r, part in enumerate(share_units(m["shards"], 3)) if lost in [u["file"] for u in part])
    (tmp_path / lost).unlink()
    (tmp_path / "manifest.json").unlink()
    written = []
    assert build_inr_dataset("fmnist-subset", tmp_path, rank=owner, world_size=3, on_shard=written.append, **KW)["complete"]
    assert [p.name for p in written] == [lost] and files(tmp_path) == files(ref)


def test_parts_share_the_work_evenly():
    from nngraph.datasets.build import _plan
    # the headline's data: 2,000 training objects, 182 validation, 2,182 test, shards of 4,096 INRs
    splits = {"train": {"objects": range(2000)}, "val": {"objects": range(182)}, "test": {"objects": range(2182)}}
    units = _plan(splits, 1, 4096)
    parts = share_units(units, 2)
    assert [sum(u["stop"] - u["start"] for u in p) for p in parts] == [2182, 2182]  # not 4,182 against 182
    assert [[u["file"] for u in p] for p in parts] == [["test-00000.safetensors"],
                                                        ["train-00000.safetensors", "val-00000.safetensors"]]
    units = _plan({**splits, "train": {"objects": range(3592)}}, 10, 256)  # 10 views: 25 objects a shard
    for world_size in (1, 2, 3, 7, len(units) + 2):
        parts = share_units(units, world_size)
        assert sorted(u["file"] for p in parts for u in p) == sorted(u["file"] for u in units)  # each once
        loads = [sum((u["stop"] - u["start"]) * u["views"] for u in p) for p in parts]
        assert max(loads) - min(loads) <= max((u["stop"] - u["start"]) * u["views"] for u in units)
        assert all(p == sorted(p, key=units.index) for p in parts)  # each part in plan order


def test_parts_under_a_launcher(tmp_path, monkeypatch):
    from nngraph.experiments.fit_inrs import launch_part
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert launch_part(None, None) == (2, 4) and launch_part(0, 1) == (0, 1)
    for k in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "6")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    assert launch_part(None, None) == (1, 3)
    with pytest.raises(ValueError, match="rank"):
        build_inr_dataset("fmnist-subset", tmp_path, rank=3, world_size=3, **KW)


def test_parts_in_concurrent_processes(reference, tmp_path):
    ref, _ = reference
    cmd = [sys.executable, "-m", "nngraph.experiments.fit_inrs", "--dataset", "fmnist-subset", "--limit", "24", "--steps", "15",
           "--views", "2", "--shard-size", "8", "--world-size", "3", "--out", str(tmp_path), "--no-progress",
           "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd + ["--rank", str(r)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for r in range(3)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()
    assert files(tmp_path) == files(ref)


@pytest.mark.skipif(not NPZ.exists(), reason="../shared/data/modelnet10_pointclouds.npz not present")
def test_shape_validation_splits_are_cut_class_by_class():
    from nngraph.datasets.build import _Source, make_splits
    source = _Source("modelnet10", NPZ, None)
    splits = make_splits(source)
    labels = source.labels("train")
    val, train = labels[splits["val"]["objects"]], labels[splits["train"]["objects"]]
    per_class = np.bincount(labels, minlength=10)
    assert np.array_equal(np.bincount(val, minlength=10), np.round(per_class * 0.1).astype(int))
    assert len(val) == 399 and len(train) == 3592 and not set(splits["val"]["objects"]) & set(splits["train"]["objects"])


def test_a_build_extends_another_keeping_its_inrs_and_its_validation_and_test(tmp_path):
    kwargs = dict(root=SUBSET, limit=24, steps=3, progress=False)
    small = build_inr_dataset("fmnist-subset", tmp_path / "small", **kwargs)
    big = build_inr_dataset("fmnist-subset", tmp_path / "big", extra_train=6, reuse=tmp_path / "small", **kwargs)
    assert big["splits"]["val"] == small["splits"]["val"] and big["splits"]["test"] == small["splits"]["test"]
    assert big["splits"]["train"]["objects"] == small["splits"]["train"]["objects"] + list(range(24, 30))
    assert big["config_id"] != small["config_id"] and big["reuse"] == nngraph.INRDataset(tmp_path / "small").content_id
    first = nngraph.INRDataset(tmp_path / "big", "train", objects=small["splits"]["train"]["count"])
    assert torch.equal(first.params(), nngraph.INRDataset(tmp_path / "small", "train").params())  # copied bit for bit
    assert torch.equal(nngraph.INRDataset(tmp_path / "big", "test").params(),
                       nngraph.INRDataset(tmp_path / "small", "test").params())
    build_inr_dataset("fmnist-subset", tmp_path / "fresh", extra_train=6, **kwargs)  # refitted, not copied
    extra = nngraph.INRDataset(tmp_path / "fresh", "train").params()[-6:]
    assert torch.allclose(nngraph.INRDataset(tmp_path / "big", "train").params()[-6:], extra, atol=1e-5)
    with pytest.raises(ValueError, match="reuse: .* was fitted with another fit"):
        build_inr_dataset("fmnist-subset", tmp_path / "other", extra_train=6, reuse=tmp_path / "small",
                          **{**kwargs, "steps": 4})
    with pytest.raises(ValueError, match="extra_train: needs a limit"):
        build_inr_dataset("fmnist-subset", tmp_path / "x", root=SUBSET, extra_train=6, progress=False)


def test_an_extensions_copied_shards_need_not_be_kept_and_its_parts_share_what_is_fitted(tmp_path, monkeypatch):
    from nngraph.datasets import build as build_module
    from nngraph.datasets.build import restore_copies
    kwargs = dict(root=SUBSET, limit=24, steps=3, shard_size=8, progress=False)
    build_inr_dataset("fmnist-subset", tmp_path / "small", **kwargs)  # 22 training objects
    big = tmp_path / "big"
    for rank in (0, 1):  # 28 training objects in shards of 8: the last two hold the 6 fitted ones
        fitted = []
        m = build_inr_dataset("fmnist-subset", big, extra_train=6, reuse=tmp_path / "small", rank=rank, world_size=2,
                              on_shard=fitted.append, **kwargs)
        assert len({p.name for p in fitted} & {"train-00002.safetensors", "train-00003.safetensors"}) == 1
    copied = {e["file"]: e["copied"] for e in m["shards"]}
    assert [f for f, c in copied.items() if not c] == ["train-00002.safetensors", "train-00003.safetensors"]
    before = files(big)
    for f in copied:
        if copied[f]:
            (big / f).unlink()

    def no_source(*args, **kwargs):
        raise AssertionError("restoring copies opened the source images")
    monkeypatch.setattr(build_module, "_Source", no_source)  # a machine without them restores all the same
    assert content_id_of(restore_copies(big, tmp_path / "small")) == content_id_of(m)
    assert files(big) == before  # byte for byte, the manifest too
    (big / "train-00003.safetensors").unlink()
    with pytest.raises(ValueError, match="lacks train-00003.safetensors, fitted rather than copied"):
        restore_copies(big, tmp_path / "small")


def _fit_command(*argv):
    return subprocess.run([sys.executable, "-m", "experiments.fit_inrs", "--dataset", "fmnist-subset", "--device", "cpu",
                           "--no-progress", *map(str, argv)], cwd=REPO, capture_output=True, text=True)


def test_reuse_refuses_an_edited_source_or_one_whose_manifest_leaves_its_folder(tmp_path):
    """`--reuse` checks the dataset it copies as `INRDataset` does: an INR changed after its build
    would otherwise be copied into a dataset that records the clean source's content id."""
    small, common = tmp_path / "small", ("--limit", 24, "--steps", 2, "--shard-size", 8, "--extra-train", 2)
    build_inr_dataset("fmnist-subset", small, root=SUBSET, limit=24, steps=2, shard_size=8, progress=False)
    edited = tmp_path / "edited"
    shutil.copytree(small, edited)
    t = load_shard(edited / "train-00000.safetensors")
    t["params"][0, 0] += 1.0
    save_file({k: v.contiguous() for k, v in t.items()}, str(edited / "train-00000.safetensors"),
              metadata=read_shard_metadata_raw(small / "train-00000.safetensors"))
    r = _fit_command(*common, "--reuse", edited, "--out", tmp_path / "a")
    assert r.returncode == 2 and "train-00000.safetensors: checksum mismatch" in r.stderr, r.stderr
    assert not (tmp_path / "a" / "manifest.json").exists()

    outside = tmp_path / "outside"
    shutil.copytree(small, outside)
    m = json.loads((outside / "manifest.json").read_text())
    (tmp_path / "train-00000.safetensors").write_bytes((small / "train-00000.safetensors").read_bytes())
    m["shards"][0]["file"] = "../train-00000.safetensors"
    (outside / "manifest.json").write_text(json.dumps(m))
    r = _fit_command(*common, "--reuse", outside, "--out", tmp_path / "b")
    assert r.returncode == 2 and "is not a file name inside the dataset folder" in r.stderr, r.stderr

    assert _fit_command(*common, "--reuse", small, "--out", tmp_path / "c").returncode == 0  # the clean one is copied


def read_shard_metadata_raw(path):
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


def test_rerunning_a_complete_build_keeps_its_manifest_complete_throughout(reference, tmp_path):
    """A reader starting while a complete build is verified or a shard of it rebuilt (a training run
    beside `restore_copies`) finds the dataset complete, and a rerun that changes nothing leaves the
    manifest's file untouched."""
    ref, m = reference
    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    manifest = out / "manifest.json"
    before = manifest.read_bytes()
    os.utime(manifest, ns=(1, 1))
    build_inr_dataset("fmnist-subset", out, **KW)
    assert manifest.stat().st_mtime_ns == 1 and manifest.read_bytes() == before
    (out / m["shards"][1]["file"]).unlink()
    seen = []
    build_inr_dataset("fmnist-subset", out, on_shard=lambda path: seen.append(read_manifest(out)["complete"]), **KW)
    assert seen == [True] and files(out) == files(ref)


def test_a_recorded_shard_rebuilt_to_other_bytes_is_refused(reference, tmp_path):
    ref, m = reference
    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = "0" * 64  # as if fitted elsewhere, to other float rounding
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / m["shards"][0]["file"]).unlink()
    with pytest.raises(ValueError, match="was rebuilt to other bytes than .*manifest.json records"):
        build_inr_dataset("fmnist-subset", out, **KW)


@pytest.mark.skipif(not NPZ.exists(), reason="../shared/data/modelnet10_pointclouds.npz not present")
def test_a_limit_that_leaves_classes_out_is_said(tmp_path):
    with pytest.warns(UserWarning, match=r"limit: the first 3 train objects of modelnet10 hold 1 of its 10 classes"):
        build_inr_dataset("modelnet10", tmp_path, root=NPZ, limit=3, steps=1, sdf_points=256, points_per_step=64,
                          progress=False)


@pytest.mark.skipif(not NPZ.exists(), reason="../shared/data/modelnet10_pointclouds.npz not present")
def test_a_class_balanced_training_subset_keeps_validation_test_and_view_0(tmp_path):
    kw = dict(root=NPZ, limit=112, steps=2, sdf_points=256, points_per_step=64, progress=False)
    with pytest.warns(UserWarning):  # 112 shapes: bathtubs and beds only
        full = build_inr_dataset("modelnet10", tmp_path / "full", **kw)
        part = build_inr_dataset("modelnet10", tmp_path / "part", views=2, train_per_class=3, reuse=tmp_path / "full", **kw)
    labels = np.load(NPZ)["train_labels"]
    train = part["splits"]["train"]["objects"]
    assert len(train) == 6 and labels[train].tolist() == [0, 0, 0, 1, 1, 1]
    assert train == [o for o in full["splits"]["train"]["objects"] if labels[o] == 0][:3] + \
        [o for o in full["splits"]["train"]["objects"] if labels[o] == 1][:3]
    for split in ("val", "test"):
        assert part["splits"][split] == full["splits"][split]
        assert torch.equal(nngraph.INRDataset(tmp_path / "part", split).params(),
                           nngraph.INRDataset(tmp_path / "full", split).params())
    rows = {}
    for name in ("full", "part"):
        t = [load_shard(tmp_path / name / e["file"]) for e in read_manifest(tmp_path / name)["shards"]
             if e["split"] == "train"]
        rows[name] = {(o, v): p for s in t for o, v, p in zip(s["object"].tolist(), s["view"].tolist(), s["params"])}
    assert all(torch.equal(rows["part"][(o, 0)], rows["full"][(o, 0)]) for o in train)  # view 0 copied bit for bit
    assert not any(torch.equal(rows["part"][(o, 1)], rows["part"][(o, 0)]) for o in train)  # view 1 fitted
    assert part["train_per_class"] == 3 and "train_per_class" not in full and part["config_id"] != full["config_id"]
