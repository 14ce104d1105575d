import json

import pytest
import torch

import nngraph
from nngraph.datasets.fitting import split_flat
from nngraph.datasets.shards import (MANIFEST, layer_stats, load_shard, read_manifest, read_shard_metadata,
                                     remove_temp_files, sha256_file, tensors_digest, verify_shard,
                                     verify_shard_content, write_manifest, write_shard)

SPEC = nngraph.NetworkSpec((2, 4, 3, 1))


def shard_tensors(rows=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"params": torch.randn(rows, SPEC.num_params, generator=g), "label": torch.arange(rows) % 3,
            "object": torch.arange(rows), "view": torch.zeros(rows, dtype=torch.long),
            "steps": torch.full((rows,), 7), "psnr": torch.rand(rows, generator=g), "loss": torch.rand(rows, generator=g)}


def test_roundtrip_and_deterministic_bytes(tmp_path):
    t = shard_tensors()
    meta = {"unit": {"split": "train", "start": 0}, "config_id": "abc"}
    sha = write_shard(tmp_path / "a.safetensors", t, meta)
    write_shard(tmp_path / "b.safetensors", t, dict(reversed(list(meta.items()))))
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    assert sha == sha256_file(tmp_path / "a.safetensors")
    assert read_shard_metadata(tmp_path / "a.safetensors") == {**meta, "tensors_sha256": tensors_digest(t)}
    assert verify_shard_content(tmp_path / "a.safetensors")["config_id"] == "abc"
    back = load_shard(tmp_path / "a.safetensors")
    assert all(torch.equal(back[k], t[k]) for k in t)
    assert torch.equal(load_shard(tmp_path / "a.safetensors", rows=2, keys=("psnr",))["psnr"], t["psnr"][:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "b.safetensors"]  # no temp files left


def test_corrupt_shards_are_value_errors(tmp_path):
    path = tmp_path / "s.safetensors"
    sha = write_shard(path, shard_tensors(), {})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="s.safetensors.*not a readable shard"):
        load_shard(path)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one flipped bit: still readable, wrong checksum
    with pytest.raises(ValueError, match="checksum mismatch"):
        verify_shard(tmp_path, {"file": "s.safetensors", "sha256": sha})
    with pytest.raises(ValueError, match="missing"):
        verify_shard(tmp_path, {"file": "gone.safetensors", "sha256": sha})
    bad = dict(shard_tensors())
    bad["label"] = torch.arange(4)
    from safetensors.torch import save_file
    save_file(bad, str(path))
    with pytest.raises(ValueError, match="disagree on the number of rows"):
        read_shard_metadata(path)
    with pytest.raises(ValueError, match="missing"):
        write_shard(path, {"params": torch.zeros(1, 3)}, {})


def test_manifest_io(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        read_manifest(tmp_path / "nothing")
    with pytest.raises(ValueError, match="no manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text("{broken")
    with pytest.raises(ValueError, match="unreadable nngraph INR dataset manifest"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not an nngraph INR dataset"):
        read_manifest(tmp_path)
    m = {"format": "nngraph-inr-dataset", "objects": list(range(5)), "stats": {"w": [0.5, -1e-3]}, "name": "x"}
    write_manifest(tmp_path, m)
    assert read_manifest(tmp_path) == m
    assert "[0, 1, 2, 3, 4]" in (tmp_path / MANIFEST).read_text()  # number lists kept on one line


def test_remove_temp_files_removes_only_those_of_the_named_files(tmp_path):
    (tmp_path / ".x.safetensors.abc.tmp").write_bytes(b"partial")
    (tmp_path / ".users-own.tmp").write_bytes(b"not ours")
    (tmp_path / "keep.safetensors").write_bytes(b"")
    assert [p.name for p in remove_temp_files(tmp_path, ["x.safetensors"])] == [".x.safetensors.abc.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".users-own.tmp", "keep.safetensors"]


def test_layer_stats(tmp_path):
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"{k}.safetensors")
        write_shard(paths[-1], shard_tensors(rows=4 + k, seed=k), {})
    stats = layer_stats(SPEC, paths)
    allp = torch.cat([load_shard(p)["params"] for p in paths]).double()
    w, b = split_flat(SPEC, allp)
    for l in range(SPEC.num_layers):
        assert stats["weight_mean"][l] == pytest.approx(w[l].mean().item(), abs=1e-12)
        assert stats["weight_std"][l] == pytest.approx(w[l].std(unbiased=False).item(), rel=1e-9)
        assert stats["bias_mean"][l] == pytest.approx(b[l].mean().item(), abs=1e-12)
        assert stats["bias_std"][l] == pytest.approx(b[l].std(unbiased=False).item(), rel=1e-9)
