"""The committed runs under results/ are still recognised as the runs they are: the identity the
current code computes for each cell's command equals the one its folder records, the runs that
share data record one content id, and the committed INRs are the recipe's and intact."""
import argparse
import json
from pathlib import Path

import pytest
import torch

from nngraph.experiments import headline
from nngraph.experiments.train import data_id, differences, identity, parser, recorded_identity

RESULTS = Path(__file__).resolve().parents[2] / "results"
FMNIST = RESULTS / "inrs" / "fmnist2k-v1"
FMNIST_10 = RESULTS / "inrs" / "fmnist2k-v10"
FMNIST_4K = RESULTS / "inrs" / "fmnist4k-v1"  # the scale question's N = 4,000: 2,000 more training objects
FMNIST_4K_10 = RESULTS / "inrs" / "fmnist4k-v10"  # its 10 views: only the fitted shards are committed
# The paper-scale data (too big to commit; docs/results.md, "Paper scale"): its cells are checked where it is.
FMNIST_55K = RESULTS.parent / "runs" / "inrs" / "fmnist55k-v1"
CELLS = sorted((RESULTS / "headline" / "runs").glob("*-v*-s*"))
# Measured on 1-view INRs fitted on another machine (content id aaaa24...), kept as they were recorded.
EARLIER = RESULTS / "earlier" / "fmnist2k-aaaa24"
EARLIER_CELLS = sorted((EARLIER / "headline" / "runs").glob("*-v*-s*"))


def _cell(folder: Path):
    model, rest = folder.name.split("-", 1)
    aug, tail = rest.rsplit("-v", 1)
    views, seed = (int(t) for t in tail.split("-s"))
    args = argparse.Namespace(runs=RESULTS / "inrs", out=folder.parents[1], epochs=[60, 20], threads=1)
    cell = headline.cell_args(args, model, aug, views, seed)
    assert Path(cell.out) == folder
    return cell


def _check(folders: list[Path], one_view_id: str | None, ten_view_id: str | None = None) -> dict[int, set]:
    """Check every finished cell of ``folders`` against its command, and its data against
    ``one_view_id`` or ``ten_view_id`` where given; the content ids each views setting recorded."""
    ids = {1: set(), 10: set()}
    for folder in folders:
        if not (folder / "result.json").is_file():
            continue  # a cell still running when it was committed
        recorded = recorded_identity(folder)
        cell = _cell(folder)
        if "data_id" not in recorded:  # recorded before data ids: only the earlier 10-view runs
            assert cell.views == 10, folder
            assert differences(recorded, identity(cell, "<missing>")) == "", folder
            continue
        expected = {1: one_view_id, 10: ten_view_id}[cell.views] or recorded["data_id"]
        assert differences(recorded, identity(cell, expected)) == "", folder
        ids[cell.views].add(recorded["data_id"])
    return ids


def _assert_shards_intact(folder: Path, manifest: dict) -> None:
    """Every committed shard of ``folder`` is its build's, and the one the manifest lists (a shard
    committed before the manifest listing it is checked by its own digest); a complete build has
    the listed shards, less those of copies only (an extension's, restored from the data it extends)."""
    from nngraph.datasets.shards import sha256_file, verify_shard_content
    recorded = {e["file"]: e["sha256"] for e in manifest["shards"]}
    fitted = {e["file"] for e in manifest["shards"] if not e.get("copied")}
    shards = sorted(folder.glob("*.safetensors"))
    assert shards and (not manifest["complete"] or fitted <= {s.name for s in shards} <= set(recorded))
    for shard in shards:
        assert verify_shard_content(shard)["config_id"] == manifest["config_id"], shard
        if shard.name in recorded:
            assert sha256_file(shard) == recorded[shard.name], shard


@pytest.mark.skipif(not (FMNIST / "manifest.json").is_file(), reason="no committed Fashion-MNIST INRs")
def test_the_committed_fmnist_inrs_are_the_headlines_recipe_and_intact():
    from nngraph.datasets.shards import read_manifest
    manifest = read_manifest(FMNIST)
    fit = manifest["fit"]
    assert (fit["init"], fit["steps"], fit["lr"], fit["optimizer"]) == ("reference", 1000, 5e-4, "adam")
    assert manifest["spec"]["layer_sizes"] == [2, 32, 32, 1] and manifest["limit"] == headline.LIMIT
    assert [manifest["splits"][s]["count"] for s in ("train", "val", "test")] == [2000, 182, 2182]
    assert manifest["complete"] and manifest["views"] == {"train": 1, "val": 1, "test": 1}
    _assert_shards_intact(FMNIST, manifest)


@pytest.mark.skipif(not (FMNIST_10 / "manifest.json").is_file(), reason="no complete 10-view Fashion-MNIST INRs")
def test_the_committed_ten_view_inrs_extend_the_one_view_inrs_and_are_intact():
    from nngraph.datasets.shards import load_shard, read_manifest
    one, ten = read_manifest(FMNIST), read_manifest(FMNIST_10)
    assert ten["complete"] and ten["views"] == {"train": 10, "val": 1, "test": 1}
    assert (ten["fit"], ten["spec"], ten["splits"]) == (one["fit"], one["spec"], one["splits"])
    _assert_shards_intact(FMNIST_10, ten)
    for split in ("train", "val", "test"):  # view 0 of every object is the 1-view INR, bit for bit
        first = {k: torch.cat([load_shard(s)[k] for s in sorted(FMNIST.glob(f"{split}-*.safetensors"))])
                 for k in ("params", "object")}
        shards = [load_shard(s) for s in sorted(FMNIST_10.glob(f"{split}-*.safetensors"))]
        view0 = {k: torch.cat([s[k][s["view"] == 0] for s in shards]) for k in ("params", "object")}
        assert torch.equal(view0["object"], first["object"]) and torch.equal(view0["params"], first["params"])
        views = torch.cat([s["view"] for s in shards])
        assert len(views) == ten["views"][split] * one["splits"][split]["count"]


@pytest.mark.skipif(not CELLS or not (FMNIST / "manifest.json").is_file(), reason="no committed headline runs")
def test_every_committed_headline_cell_is_recognised_by_its_command_and_data():
    ten_view_id = data_id(FMNIST_10) if (FMNIST_10 / "manifest.json").is_file() else None
    ids = _check(CELLS, data_id(FMNIST), ten_view_id)
    assert all(len(i) <= 1 for i in ids.values())


@pytest.mark.skipif(not (FMNIST_4K / "manifest.json").is_file(), reason="no committed extension of the INRs")
def test_the_committed_extension_keeps_the_headlines_inrs_bit_for_bit_and_is_intact():
    from nngraph import INRDataset
    from nngraph.datasets.shards import read_manifest
    one, big = read_manifest(FMNIST), read_manifest(FMNIST_4K)
    assert big["complete"] and big["reuse"] == INRDataset(FMNIST).content_id and big["extra_train"] == 2000
    assert (big["fit"], big["spec"], big["views"]) == (one["fit"], one["spec"], one["views"])
    assert big["splits"]["val"] == one["splits"]["val"] and big["splits"]["test"] == one["splits"]["test"]
    assert big["splits"]["train"]["objects"][:2000] == one["splits"]["train"]["objects"]
    assert big["splits"]["train"]["count"] == 4000
    _assert_shards_intact(FMNIST_4K, big)
    for split in ("train", "val", "test"):
        n = one["splits"][split]["count"]
        assert torch.equal(INRDataset(FMNIST_4K, split).params()[:n], INRDataset(FMNIST, split).params()), split


@pytest.mark.skipif(not (FMNIST_4K_10 / "manifest.json").is_file(), reason="no committed 10-view extension")
def test_the_committed_ten_view_extension_is_intact_and_extends_the_ten_view_inrs():
    from nngraph import INRDataset
    from nngraph.datasets.shards import read_manifest
    ten, big = read_manifest(FMNIST_10), read_manifest(FMNIST_4K_10)
    assert big["reuse"] == INRDataset(FMNIST_10, views=10).content_id and big["extra_train"] == 2000
    assert (big["fit"], big["spec"], big["views"]) == (ten["fit"], ten["spec"], ten["views"])
    assert big["splits"]["val"] == ten["splits"]["val"] and big["splits"]["test"] == ten["splits"]["test"]
    assert big["splits"]["train"]["objects"][:2000] == ten["splits"]["train"]["objects"]
    _assert_shards_intact(FMNIST_4K_10, big)


SCALE_CELLS = sorted((RESULTS / "scale" / "runs").glob("*-v*-n*-s*"))


@pytest.mark.skipif(not SCALE_CELLS or not (FMNIST_10 / "manifest.json").is_file(), reason="no committed scale runs")
def test_every_committed_scale_cell_is_recognised_by_its_command_and_data(tmp_path):
    from nngraph.experiments import scale
    staged = tmp_path / FMNIST_4K_10.name  # its copied shards restored beside links to the committed ones
    staged.mkdir()
    for f in FMNIST_4K_10.iterdir():
        (staged / f.name).symlink_to(f)
    args = argparse.Namespace(runs=RESULTS / "inrs", headline=RESULTS / "headline", out=RESULTS / "scale",
                              epochs=[60, 20], threads=1, data_10=[staged],
                              data_1=[FMNIST_4K] + ([FMNIST_55K] if (FMNIST_55K / "manifest.json").is_file() else []))
    held = {views: scale.datasets(args, views) for views in (1, 10)}  # as the command finds them (copies restored)
    checked, ids = 0, {}
    for folder in SCALE_CELLS:
        if not (folder / "result.json").is_file():
            continue  # a cell still running when it was committed
        model, rest = folder.name.split("-", 1)
        aug, tail = rest.rsplit("-v", 1)
        views, size, seed = (int(t) for t in tail.replace("-n", "-s").split("-s"))
        holding = [(data, full) for data, full in held[views] if full >= size]  # the first holds N
        if not holding:
            assert size > 4000 and not (FMNIST_55K / "manifest.json").is_file(), folder
            continue  # a paper-scale cell, its data not here
        data = holding[0][0]
        cell = scale.cell(args, aug, views, size, seed, *holding[0], model)
        assert Path(cell.out) == folder
        ids[data] = ids.get(data) or data_id(data)
        assert differences(recorded_identity(folder), identity(cell, ids[data])) == "", folder
        checked += 1
    assert checked >= 27  # N = 500, 1,000 and 4,000 (2,000 is the headline's), three cells each at n = 3


@pytest.mark.skipif(not EARLIER_CELLS, reason="no earlier headline runs")
def test_every_earlier_headline_cell_is_recognised_by_its_command():
    ids = _check(EARLIER_CELLS, None)
    assert len(ids[1]) == 1 and len(ids[10]) <= 1  # every 1-view cell trained on the same data


def test_the_longer_and_precision_runs_record_the_earlier_headlines_data():
    one_view = {recorded_identity(f)["data_id"] for f in EARLIER_CELLS if "-v1-s" in f.name}
    for folder in sorted((EARLIER / "headline-long").glob("*")) + sorted((EARLIER / "precision").glob("*")):
        recorded = json.loads((folder / "run.json").read_text())
        assert recorded["data_id"] in one_view, folder
        argv = ["--data", str(FMNIST)] + sum(([f"--{k.replace('_', '-')}", json.dumps(v) if isinstance(v, dict)
                                               else str(v)] for k, v in recorded.items()
                                              if k in ("model", "augment", "views", "epochs", "seed",
                                                       "preset", "batch_size", "warmup_steps", "precision")), [])
        assert differences(recorded, identity(parser().parse_args(argv), recorded["data_id"])) == "", folder


SHAPES = RESULTS / "inrs" / "modelnet10-v1"


@pytest.mark.skipif(not (SHAPES / "manifest.json").is_file(), reason="no committed ModelNet10 INRs")
def test_the_committed_shape_inrs_are_the_shapes_recipe_and_intact():
    from nngraph.datasets.shards import read_manifest
    from nngraph.experiments import shapes
    manifest = read_manifest(SHAPES)
    fit = manifest["fit"]
    assert (fit["points_per_step"], fit["sdf_points"], fit["init"], fit["steps"], fit["lr"], fit["optimizer"]) == \
        (shapes.FIT["points_per_step"], shapes.FIT["sdf_points"], shapes.FIT["init"], 1000, 1e-4, "adamw")
    assert manifest["spec"]["layer_sizes"] == [3, 32, 32, 32, 32, 32, 1] and manifest["views"]["train"] == 1
    assert [manifest["splits"][s]["count"] for s in ("train", "val", "test")] == [3592, 399, 908]
    _assert_shards_intact(SHAPES, manifest)


SHAPE_CELLS = sorted((RESULTS / "table1" / "modelnet10" / "runs").glob("*-v*-s*"))


@pytest.mark.skipif(not SHAPE_CELLS or not (SHAPES / "manifest.json").is_file(), reason="no committed shape runs")
def test_every_committed_shape_cell_is_recognised_by_its_command_and_data():
    from nngraph.experiments import shapes
    args = argparse.Namespace(data=SHAPES, subset_runs=Path("runs/inrs"), out=RESULTS / "table1" / "modelnet10", threads=1)
    shapes_id, subset_ids = data_id(SHAPES), {1: set(), 10: set()}
    for folder in SHAPE_CELLS:
        if not (folder / "result.json").is_file():
            continue  # a cell still running when it was committed
        model, rest = folder.name.split("-", 1)
        aug, tail = rest.rsplit("-v", 1)
        aug, protocol = (aug[:-len(f"-pc{shapes.PER_CLASS}")], "views") if aug.endswith(f"-pc{shapes.PER_CLASS}") \
            else (aug, "all")
        views, seed = (int(t) for t in tail.split("-s"))
        cell = shapes.cell_args(args, model, aug, seed, protocol, views)
        assert Path(cell.out) == folder
        recorded = recorded_identity(folder)
        if protocol == "all":  # its data is committed: the whole identity is checked
            assert differences(recorded, identity(cell, shapes_id)) == "", folder
        else:
            assert differences(recorded, identity(cell, recorded["data_id"])) == "", folder
            subset_ids[views].add(recorded["data_id"])
    assert all(len(ids) <= 1 for ids in subset_ids.values())  # each views setting trained on one dataset


EQUAL_STEPS_CELLS = sorted((RESULTS / "equal-steps" / "runs").glob("*-v1-e*-s*"))


@pytest.mark.skipif(not EQUAL_STEPS_CELLS, reason="no committed equal-steps runs")
def test_every_committed_equal_steps_cell_is_recognised_by_its_command_and_data():
    from nngraph.experiments import equal_steps
    epochs = equal_steps.equal_epochs(RESULTS / "inrs", 20)
    args = argparse.Namespace(runs=RESULTS / "inrs", out=RESULTS / "equal-steps", headline=RESULTS / "headline",
                              headline_epochs=[60, 20], seeds=[0, 1, 2], threads=1)
    cells = {Path(c.out): c for _, e, c in equal_steps.cells(args, epochs) if e == epochs}
    fmnist_id, checked = data_id(FMNIST), 0
    for folder in EQUAL_STEPS_CELLS:
        if (folder / "result.json").is_file():
            assert differences(recorded_identity(folder), identity(cells[folder], fmnist_id)) == "", folder
            checked += 1
    assert checked >= 2 and epochs == 201


RERUN_CELLS = sorted((RESULTS / "table1" / "modelnet10-rerun" / "runs").glob("*-v*-s*"))


@pytest.mark.skipif(not RERUN_CELLS, reason="no committed reruns")
def test_every_committed_rerun_is_the_run_it_reruns():
    for folder in RERUN_CELLS:
        if (folder / "result.json").is_file():
            first = RESULTS / "table1" / "modelnet10" / "runs" / folder.name
            assert recorded_identity(folder) == recorded_identity(first), folder
