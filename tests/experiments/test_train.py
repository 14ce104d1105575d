import csv
import json
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nngraph import augment
import nngraph
from nngraph.experiments import table1
from nngraph.experiments.cli import run
from nngraph.lightning import INRDataModule
from nngraph.experiments.fit_inrs import build as build_inrs
from nngraph.lightning import WeightSpaceClassifier
from nngraph.experiments.records import lock_folder
from nngraph.experiments.train import RESULT, parser, run_dir, train

TINY = {"rt": '{"num_layers": 1, "node_dim": 16, "edge_dim": 8, "num_heads": 2, "attention_dim": 16, '
              '"node_hidden": 16, "edge_hidden": 16, "readout_hidden": 16, "num_frequencies": 8, '
              '"readout": "roles"}',
        "dws": '{"hidden_dim": 8, "num_layers": 1, "readout_hidden": 8}'}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("inrs")
    build_inrs("fmnist-subset", out, views=2, limit=24, steps=10, progress=False)
    return out


def _args(data, out, model="rt", augmentation="none", epochs=1, *extra):
    return parser().parse_args(["--data", str(data), "--model", model, "--augment", augmentation, "--epochs", str(epochs),
                                "--batch-size", "8", "--model-kwargs", TINY[model], "--out", str(out), "--quiet",
                                "--accelerator", "cpu", "--devices", "1", *extra])


@pytest.mark.parametrize("model", ["rt", "dws"])
@pytest.mark.parametrize("augmentation", sorted(augment.AUGMENTATIONS))
def test_every_augmentation_trains(data, tmp_path, model, augmentation):
    if augmentation == "relu_scale":  # the INRs are SIRENs: ReLU scaling is refused, by name
        with pytest.raises(ValueError, match="relu"):
            train(_args(data, tmp_path, model, augmentation, 1, "--limit-train-batches", "2"))
        return
    r = train(_args(data, tmp_path, model, augmentation, 1, "--limit-train-batches", "2"))
    assert 0.0 <= r["test_acc"] <= 1.0 and r["config"]["augment"] == augmentation
    assert json.loads((tmp_path / RESULT).read_text())["test_acc"] == r["test_acc"]
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_views_and_loader_path(data, tmp_path):
    r = train(_args(data, tmp_path, "dws", "mixup_weight_matching+siren_negation", 1, "--views", "2",
                    "--augment-on", "loader"))
    assert r["num_train"] == 2 * train(_args(data, tmp_path / "v1", "dws", "none", 1))["num_train"]


def _interrupted_after_epoch_0(data, out, model, augmentation, epochs):
    """As if an ``epochs``-epoch run had been interrupted after epoch 0: its last checkpoint, no result yet."""
    train(_args(data, out, model, augmentation, 1))
    (out / RESULT).unlink()
    run = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**run, "epochs": epochs}))


def test_resume_continues_from_checkpoint(data, tmp_path):
    _interrupted_after_epoch_0(data, tmp_path, "dws", "none", 2)
    r = train(_args(data, tmp_path, "dws", "none", 2))
    assert r["epochs"] == 2
    epochs = []
    for version in ("version_0", "version_1"):  # one CSV log per start
        with open(tmp_path / "csv" / version / "metrics.csv") as f:
            epochs += [int(row["epoch"]) for row in csv.DictReader(f) if row.get("train_loss")]
    assert epochs == [0, 1]  # epoch 0 was not trained twice
    sessions = r["provenance"]["sessions"]  # both processes, each with what it ran on
    assert [s["from_epoch"] for s in sessions] == [0, 1] and all(s["cpu_capability"] and s["argv"] for s in sessions)


def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(data, tmp_path):
    # The GNN's dropout, the shuffled batches and two augmentations all draw after the restart.
    whole = train(_args(data, tmp_path / "whole", "rt", "siren_negation+mixup", 3))
    _interrupted_after_epoch_0(data, tmp_path / "resumed", "rt", "siren_negation+mixup", 3)
    resumed = train(_args(data, tmp_path / "resumed", "rt", "siren_negation+mixup", 3))
    assert resumed["test_acc"] == whole["test_acc"] and resumed["test_loss"] == whole["test_loss"]
    a, b = (torch.load(tmp_path / run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
            for run in ("whole", "resumed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_older_checkpoint_without_random_state_resumes_and_says_so(data, tmp_path, capsys):
    _interrupted_after_epoch_0(data, tmp_path, "dws", "none", 2)
    last = tmp_path / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    checkpoint["callbacks"] = {k: v for k, v in checkpoint["callbacks"].items() if k not in ("RandomState", "Sessions")}
    torch.save(checkpoint, last)
    r = train(_args(data, tmp_path, "dws", "none", 2))
    assert r["epochs"] == 2 and [s["from_epoch"] for s in r["provenance"]["sessions"]] == [1]  # earlier: unrecorded
    assert "carries no random state" in capsys.readouterr().out


def test_checkpoint_loads_safely_and_gives_the_reported_test_accuracy(data, tmp_path):
    r = train(_args(data, tmp_path, "dws", "none", 2))
    module = WeightSpaceClassifier.load_from_checkpoint(tmp_path / "checkpoints" / r["best_checkpoint"],
                                                        map_location="cpu", weights_only=True).eval()
    test = nngraph.INRDataset(data, "test")
    with torch.no_grad():
        logits = module(module.normalize(test.batch(range(len(test)))))
    assert (logits.argmax(1) == test.labels).float().mean().item() == pytest.approx(r["test_acc"], abs=1e-6)


@pytest.mark.parametrize("flag, amsgrad", [((), True), (("--no-amsgrad",), False)])
def test_optimiser_is_the_reference_amsgrad_adamw(data, tmp_path, flag, amsgrad):
    train(_args(data, tmp_path, "dws", "none", 1, *flag))
    module = WeightSpaceClassifier.load_from_checkpoint(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu",
                                                        weights_only=True)
    assert module.configure_optimizers()["optimizer"].defaults["amsgrad"] is amsgrad
    assert parser().parse_args(["--data", "d"]).gradient_clip is None  # no clipping, as the reference


def test_finished_run_is_not_repeated(data, tmp_path):
    r1 = train(_args(data, tmp_path, "dws", "none", 1))
    mtime = (tmp_path / RESULT).stat().st_mtime
    assert train(_args(data, tmp_path, "dws", "none", 1)) == r1 and (tmp_path / RESULT).stat().st_mtime == mtime


def test_bad_input(data, tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        train(_args(tmp_path / "missing", tmp_path / "run"))
    with pytest.raises(ValueError, match="unknown augmentation"):
        train(_args(data, tmp_path / "run", "rt", "mixup+flip"))
    with pytest.raises(ValueError, match=r"options\['mixup'\].*'lam'"):
        train(_args(data, tmp_path / "run", "rt", "mixup", 1, "--augment-options", '{"mixup": {"lam": 0.9}}'))


def test_augment_options_reach_the_training_transform(data, tmp_path):
    args = _args(data, tmp_path, "dws", "mixup", 1, "--augment-options", '{"mixup": {"lam_range": [0.8, 1.0]}}')
    r = train(args)
    assert r["config"]["augment_options"] == {"mixup": {"lam_range": [0.8, 1.0]}}
    dm = INRDataModule(data, augmentation="mixup", augment_options=args.augment_options)
    dm.setup("fit")
    assert dm.batch_transform.lam_range == (0.8, 1.0)


def _fake_run(data, out, model, name, views, seed, acc):
    """A finished run folder with a result of ``acc``, recorded as `train` records one."""
    from nngraph.experiments.train import identity
    args = parser().parse_args(["--data", str(data), "--model", model, "--augment", name, "--views", str(views),
                                "--seed", str(seed), "--out", str(out)])
    out.mkdir(parents=True)
    (out / "run.json").write_text(json.dumps(identity(args)))
    (out / RESULT).write_text(json.dumps({"test_acc": acc, "config": vars(args), "identity": identity(args)}))
    return args


def test_table_aggregates_a_fake_grid(data, tmp_path):
    accs = {("none", "rt", 1): [0.60, 0.62, 0.64], ("mixup", "dws", 2): [0.70], ("none", "rt", 2): [0.80, 0.90]}
    runs = [_fake_run(data, tmp_path / "runs" / f"{model}-{name}-v{views}-s{seed}", model, name, views, seed, acc)
            for (name, model, views), values in accs.items() for seed, acc in enumerate(values)]
    agg = table1.aggregate(runs)
    assert agg[("none", "rt", 1)] == pytest.approx([60, 62, 64])
    md = table1.write_tables(agg, tmp_path, "fmnist", [1, 2], ["dws", "rt"])
    assert "| No augmentation | GNN | 62.00 ± 2.00 | 85.00 ± 7.07 (n=2) | 68.84 ± 0.41 | — |" in md
    assert "| MixUp | DWS |  | 70.00 ± 0.00 (n=1) | 74.36 ± 1.17 | — |" in md
    with open(tmp_path / "table1.csv") as f:
        rows = {(r["augment"], r["model"], r["views"]): r for r in csv.DictReader(f)}
    assert rows[("none", "GNN", "1")]["mean"] == "62.00" and rows[("none", "GNN", "1")]["std"] == "2.00"
    assert rows[("none", "GNN", "1")]["paper_mean"] == "68.84"
    assert rows[("translate", "DWS", "1")]["n"] == "0"


def test_table_grid_passes_each_run_only_its_own_augment_options(data, tmp_path):
    table1.main(["--data", str(data), "--out", str(tmp_path), "--models", "dws", "--views", "1", "--seeds", "0",
                 "--epochs", "1", "--augmentations", "none", "mixup", "--batch-size", "8", "--quiet",
                 "--model-kwargs", TINY["dws"], "--limit-train-batches", "1", "--accelerator", "cpu", "--devices", "1",
                 "--augment-options", '{"mixup": {"lam_range": [0.9, 1.0]}}'])
    config = {name: json.loads((tmp_path / "runs" / f"dws-{name}-v1-s0" / RESULT).read_text())["config"]
              for name in ("none", "mixup")}
    assert config["none"]["augment_options"] == {}
    assert config["mixup"]["augment_options"] == {"mixup": {"lam_range": [0.9, 1.0]}}


def test_epoch_lines_print_one_line_per_epoch(data, tmp_path, capsys):
    train(_args(data, tmp_path, "dws", "none", 2, "--epoch-lines"))
    lines = [l for l in capsys.readouterr().out.splitlines() if "val acc" in l]
    assert [l.split("epoch ")[1].split()[0] for l in lines] == ["1/2", "2/2"]
    assert all("train loss" in l and "val loss" in l for l in lines)
    assert all(re.search(r"\d+:\d\d:\d\d elapsed, about \d+:\d\d:\d\d left$", l) for l in lines), lines
    assert lines[-1].endswith("about 0:00:00 left")
    hparams = (tmp_path / "csv" / "version_0" / "hparams.yaml").read_text()  # what a logger sees of the run
    assert "seed: 0" in hparams and "augmentation: none" in hparams and "normalize:" in hparams


def test_headline_cells_run_seed_by_seed():
    from nngraph.experiments.headline import cells
    c = cells(["dws", "rt"], [0, 1], [1, 10])
    assert len(c) == 2 * 2 * 6 and [s for s, *_ in c] == [0] * 12 + [1] * 12
    assert c[:6] == [(0, "dws", a, 1) for a in ("none", "mixup", "mixup_permutation", "mixup_weight_matching",
                                              "mixup_signed_weight_matching")] + [(0, "dws", "none", 10)]


def test_a_run_folder_belongs_to_its_settings(data, tmp_path):
    train(_args(data, tmp_path, "dws", "none", 1))
    for extra, named in ((("--lr", "1e-4"), "lr"), (("--seed", "3"), "seed"), (("--preset", "small"), "preset"),
                         (("--precision", "bf16-mixed"), "precision")):
        with pytest.raises(ValueError, match=rf"other settings: {named} "):
            train(_args(data, tmp_path, "dws", "none", 1, *extra))
    with pytest.raises(ValueError) as refused:
        train(_args(data, tmp_path, "dws", "mixup", 2))
    assert "augment ('none' there, 'mixup' now), epochs (1 there, 2 now)" in str(refused.value)
    assert train(_args(data, tmp_path, "dws", "none", 1))["config"]["lr"] is None  # the same settings: read back


def test_default_run_folder_names_every_setting(data):
    a = parser().parse_args(["--data", str(data)])
    b = parser().parse_args(["--data", str(data), "--lr", "1e-4"])
    assert run_dir(a) != run_dir(b) and run_dir(a).name.startswith("rt-none-v1-s0-")
    assert run_dir(a) == run_dir(parser().parse_args(["--data", str(data) + "/"]))


def test_settings_added_later_keep_earlier_run_folders(data):
    from nngraph.experiments.train import identity
    # a setting added later (--precision) is left out of the identity at the value earlier runs had
    args = parser().parse_args(["--data", str(data), "--model", "dws"])
    bf16 = parser().parse_args(["--data", str(data), "--model", "dws", "--precision", "bf16-mixed"])
    assert "precision" not in identity(args) and identity(bf16)["precision"] == "bf16-mixed"
    assert run_dir(bf16) != run_dir(args)


@pytest.mark.parametrize("model", ["rt", "dws"])
def test_bf16_mixed_trains(data, tmp_path, model):
    r = train(_args(data, tmp_path, model, "mixup_weight_matching", 1, "--precision", "bf16-mixed"))
    assert 0.0 <= r["test_acc"] <= 1.0 and math.isfinite(r["test_loss"])
    assert json.loads((tmp_path / "run.json").read_text())["precision"] == "bf16-mixed"


def test_non_finite_training_loss_stops_the_run(data, tmp_path):
    with pytest.raises(FloatingPointError, match="training loss is nan"):
        train(_args(data, tmp_path, "dws", "none", 1, "--lr", "1e30"))
    assert not (tmp_path / RESULT).exists()


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 truncated"])
def test_a_checkpoint_that_does_not_load_is_set_aside_and_the_run_resumes_from_a_good_one(data, tmp_path, capsys,
                                                                                          damage):
    train(_args(data, tmp_path, "dws", "none", 2))
    (tmp_path / RESULT).unlink()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(damage)  # as a full disk left it before
    r = train(_args(data, tmp_path, "dws", "none", 2))
    out = capsys.readouterr().out
    assert "last.ckpt: does not load" in out and "set aside as last.ckpt." in out
    assert "resuming from best-epoch=" in out and r["epochs"] == 2
    assert len(list((tmp_path / "checkpoints").glob("last.ckpt.*.bad"))) == 1


def test_a_dataset_without_validation_inrs_is_refused(tmp_path):
    out = tmp_path / "inrs"
    build_inrs("fmnist-subset", out, limit=5, steps=1, progress=False)  # 5 objects: none drawn for validation
    with pytest.raises(ValueError, match="no validation INRs"):
        train(_args(out, tmp_path / "run", "dws", "none", 1))


def test_train_runs_on_an_imported_public_dataset(tmp_path):
    from nngraph.experiments import import_inrs
    from tests.nngraph.datasets.test_public import tree
    root, _ = tree(tmp_path)
    import_inrs.main(["--splits", str(root / "splits.json"), "--out", str(tmp_path / "imported")])
    r = train(_args(tmp_path / "imported", tmp_path / "run", "dws", "mixup", 1))
    assert r["num_train"] == 4 and 0.0 <= r["test_acc"] <= 1.0


def test_table_lists_missing_runs_and_runs_them_in_parallel(data, tmp_path, capsys):
    grid = ["--data", str(data), "--out", str(tmp_path), "--models", "dws", "--views", "1", "--seeds", "0", "1",
            "--epochs", "1", "--augmentations", "none", "--batch-size", "8", "--quiet", "--model-kwargs", TINY["dws"],
            "--accelerator", "cpu", "--devices", "1", "--threads", "1"]
    table1.main(grid + ["--seeds", "0"])  # seed 0 done in this process
    capsys.readouterr()
    table1.main(grid + ["--list"])
    listed = capsys.readouterr().out.strip().splitlines()
    assert len(listed) == 1 and "--seed 1" in listed[0] and "experiments.train" in listed[0]
    table1.main(grid + ["--jobs", "2"])
    one = json.loads((tmp_path / "runs" / "dws-none-v1-s1" / RESULT).read_text())
    # the listed command, run by hand, is the same run: the parallel result matches this process's
    assert one == train(parser().parse_args(shlex.split(listed[0])[3:]))
    assert one["config"]["seed"] == 1 and one["config"]["model_kwargs"] == json.loads(TINY["dws"])


def test_a_failed_parallel_run_stops_the_others_and_names_itself(data, tmp_path, capsys):
    long = _args(data, tmp_path / "long", "dws", "none", 10_000, "--threads", "1")
    bad = _args(tmp_path / "no-such-data", tmp_path / "bad", "dws", "none", 1, "--threads", "1")
    with pytest.raises(SystemExit) as stop:  # as a command reports it: one line, exit 1
        run(lambda: table1.train_cells([long, bad], jobs=2))
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.count("\n") == 1
    assert re.fullmatch(r"error: run .*bad failed \(exit 2\); see .*bad/train\.log\n", err), err
    assert "no-such-data" in (tmp_path / "bad" / "train.log").read_text()
    assert not (tmp_path / "long" / RESULT).exists()
    assert not [c for c in _command_lines() if str(tmp_path / "long").encode() in c]  # stopped, not left to run on


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_another_process_holds_is_left_to_it(data, tmp_path, capsys, jobs):
    """The same grid started twice splits the runs: each command skips the run folders the other holds."""
    held, free = (_args(data, tmp_path / name, "dws", "none", 1, "--threads", "1") for name in ("held", "free"))
    with lock_folder(Path(held.out)):  # as another process's running cell holds it
        table1.train_cells([held, free], jobs=jobs)
    out = capsys.readouterr().out
    assert re.search(rf"out: {tmp_path / 'held'} is in use by .*: left to it", out), out
    assert not (tmp_path / "held" / RESULT).exists() and (tmp_path / "free" / RESULT).is_file()
    table1.train_cells([held], jobs=jobs)  # released: this command takes it
    assert (tmp_path / "held" / RESULT).is_file()


def _command_lines() -> list[bytes]:
    """Every running process's command line (Linux)."""
    lines = []
    for f in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(f.read_bytes())
        except OSError:  # it ended meanwhile
            pass
    return lines


def test_ddp_on_two_cpu_processes_splits_each_epoch(data, tmp_path):
    # docs/usage.md: under --devices K each process reads ceil(N / K) training INRs per epoch in batches
    # of --batch-size, the last partial one dropped: 22 INRs, 2 processes, batch 4 -> 2 steps per epoch.
    n = len(nngraph.INRDataset(data, "train"))
    cmd = [sys.executable, "-m", "nngraph.experiments.train", "--data", str(data), "--model", "dws", "--model-kwargs",
           TINY["dws"], "--epochs", "2", "--batch-size", "4", "--accelerator", "cpu", "--devices", "2",
           "--strategy", "ddp", "--out", str(tmp_path), "--quiet", "--threads", "1"]
    done = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("test accuracy") == 1  # one process reports
    step = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
    assert n == 22 and step == 2 * (math.ceil(n / 2) // 4)
    assert json.loads((tmp_path / RESULT).read_text())["config"]["devices"] == "2"


def test_training_on_the_first_objects_of_the_split(data, tmp_path):
    r = train(_args(data, tmp_path, "dws", "none", 1, "--views", "2", "--train-objects", "5"))
    assert r["num_train"] == 10  # 5 objects x 2 views
    assert json.loads((tmp_path / "run.json").read_text())["train_objects"] == 5
    with pytest.raises(ValueError, match="other settings: train_objects \\(5 there, 6 now\\)"):
        train(_args(data, tmp_path, "dws", "none", 1, "--views", "2", "--train-objects", "6"))


def test_a_run_after_others_in_one_process_draws_what_a_fresh_process_draws(data, tmp_path):
    """Grids train cell after cell in one process: a cell's augmentations and result must not depend
    on what trained before it there (the random streams are reseeded per run)."""
    code = ("import json, sys\nfrom nngraph.experiments.train import parser, train\n"
            "out = []\nfor aug, folder in zip(sys.argv[1::2], sys.argv[2::2]):\n"
            "    r = train(parser().parse_args(['--data', %r, '--model', 'dws', '--augment', aug, '--epochs', '2', "
            "'--batch-size', '8', '--model-kwargs', %r, '--out', folder, '--quiet', '--accelerator', 'cpu', "
            "'--loggers', 'csv']))\n    out.append([r['test_acc'], r['best_val_acc'], r['provenance']['launched']])\n"
            "print(json.dumps(out))\n") % (str(data), TINY["dws"])

    def runs(*pairs):
        r = subprocess.run([sys.executable, "-c", code, *pairs], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])
    fresh = runs("noise", str(tmp_path / "fresh"))
    after = runs("mixup", str(tmp_path / "a"), "siren_negation", str(tmp_path / "b"), "noise", str(tmp_path / "c"))
    assert fresh[0][2] == "fresh process" and after[2][2] == "in a process after 2 other trainings"
    assert fresh[0][:2] == after[2][:2]
    first = lambda folder: [r["val_loss"] for r in csv.DictReader(open(folder / "csv" / "version_0" / "metrics.csv"))
                            if r.get("val_loss")]  # noqa: E731
    assert first(tmp_path / "fresh") == first(tmp_path / "c")  # every epoch, bit for bit
