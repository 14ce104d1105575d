"""A run belongs to its settings and its data; its folder survives a full disk, a kill and a second
process. The silent wrong answers and the truncated checkpoint are checked end to end, through the
command lines."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nngraph.datasets.shards import read_manifest, write_manifest
from nngraph.experiments.cli import run
from nngraph.experiments.fit_inrs import build as build_inrs
from nngraph.experiments.records import lock_folder
from nngraph.lightning import resume_point
from nngraph.experiments.train import RESULT, main as train_main, train
from tests.experiments.test_train import TINY, _args

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("inrs")
    build_inrs("fmnist-subset", out, limit=24, steps=2, progress=False)
    return out


def cli(module: str, *argv, prelude: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m module argv...`` as a user runs it (``prelude``: Python run first, in the process)."""
    code = (f"{prelude}\nimport runpy, sys\nsys.argv = [{module!r}] + {list(map(str, argv))!r}\n"
            f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def _train_argv(data, out, *extra):
    return ["--data", data, "--model", "dws", "--batch-size", "8", "--model-kwargs", TINY["dws"], "--out", out,
            "--quiet", "--accelerator", "cpu", "--devices", "1", "--threads", "1", *extra]


def test_train_reports_no_result_made_on_other_data_at_the_same_path(tmp_path):
    data, out = tmp_path / "data", tmp_path / "run"
    build_inrs("fmnist-subset", data, limit=24, steps=2, progress=False)
    first = cli("nngraph.experiments.train", *_train_argv(data, out, "--epochs", "1"))
    assert first.returncode == 0 and "test accuracy" in first.stdout, first.stderr[-2000:]
    shutil.rmtree(data)
    build_inrs("fmnist-subset", data, limit=12, steps=2, progress=False)  # other INRs, the same path
    again = cli("nngraph.experiments.train", *_train_argv(data, out, "--epochs", "1"))
    assert again.returncode == 2 and "test accuracy" not in again.stdout
    assert again.stderr.count("\n") == 1 and "other settings: data_id (" in again.stderr
    (out / RESULT).unlink()  # interrupted: its checkpoint is not resumed on the new data either
    assert "data_id (" in cli("nngraph.experiments.train", *_train_argv(data, out, "--epochs", "1")).stderr


def test_table1_neither_reuses_nor_reports_runs_of_other_settings(data, tmp_path):
    other = tmp_path / "other"
    build_inrs("fmnist-subset", other, limit=12, steps=2, progress=False)
    grid = ["--out", tmp_path / "t", "--models", "dws", "--views", "1", "--seeds", "0", "--augmentations", "none",
            "--batch-size", "8", "--quiet", "--model-kwargs", TINY["dws"], "--accelerator", "cpu", "--devices", "1"]
    done = cli("nngraph.experiments.table1", "--data", data, *grid, "--epochs", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    for extra in ((), ("--list",), ("--aggregate-only",)):
        r = cli("nngraph.experiments.table1", "--data", other, *grid, "--epochs", "7", "--lr", "0.1", *extra)
        assert r.returncode == 2 and r.stderr.startswith("error: 1 run folder(s) hold other runs"), r.stderr[-2000:]
        assert "epochs (2 there, 7 now)" in r.stderr and "lr (None there, 0.1 now)" in r.stderr
        assert "data_id (" in r.stderr and "test" not in r.stdout


def test_headline_aggregate_refuses_a_run_of_other_settings_in_its_folder(data, tmp_path):
    runs, out = tmp_path / "inrs", tmp_path / "headline"
    shutil.copytree(data, runs / "fmnist2k-v1")
    train(_args(runs / "fmnist2k-v1", out / "runs" / "dws-none-v1-s0", "dws", "none", 1))  # 1 epoch, a tiny model
    r = cli("nngraph.experiments.headline", "--aggregate-only", "--out", out, "--runs", runs, "--models", "dws",
            "--epochs", "120", "20")
    assert r.returncode == 2 and "epochs (1 there, 120 now)" in r.stderr and "model_kwargs" in r.stderr
    assert not (out / "table.md").exists()


def test_studies_check_every_result_and_mark_those_recorded_before_data_ids(data, tmp_path, monkeypatch):
    from nngraph.experiments import studies
    monkeypatch.setattr(studies, "COMMON", ["--preset", "small", "--batch-size", "8", "--epochs", "1"])
    runs, out = tmp_path / "inrs", tmp_path / "studies"
    shutil.copytree(data, studies.data_dir(runs, "reference"))
    dws = next(arm for arm in studies.STUDIES["mixup-variants"] if arm.label == "dws")
    train(studies.arm_args("mixup-variants", dws, "none", 0, runs, out))
    legacy = studies.arm_args("mixup-variants", dws, "mixup", 0, runs, out)
    folder = Path(legacy.out)
    folder.mkdir(parents=True)  # a result recorded before runs named their data: its settings in its config only
    (folder / RESULT).write_text(json.dumps({"test_acc": 0.5, "seconds": 60, "config": vars(legacy)}, default=str))
    md = studies.table("mixup-variants", out, runs)
    row = next(r for r in md.splitlines() if r.startswith("| dws |")).split("|")
    assert row[2].strip().endswith("(n=1)") and row[3].strip() == "50.00 ± 0.00 (n=1) †", row
    assert "† recorded before runs named their data's content" in md
    config = {**vars(legacy), "epochs": 99}
    (folder / RESULT).write_text(json.dumps({"test_acc": 0.5, "seconds": 60, "config": config}, default=str))
    with pytest.raises(ValueError, match=r"epochs \(99 there, 1 now\)"):
        studies.table("mixup-variants", out, runs)


def test_headline_tables_keep_the_cells_of_models_not_run_this_time(data, tmp_path):
    import argparse
    from nngraph.experiments import headline
    runs, out = tmp_path / "inrs", tmp_path / "headline"
    shutil.copytree(data, runs / "fmnist2k-v1")
    args = argparse.Namespace(runs=runs, out=out, epochs=[1, 1], threads=1)
    for model in ("dws", "rt"):  # the headline's own cells, one epoch each
        train(headline.cell_args(args, model, "none", 1, 0))
    for rows, table in (("headline", out / "table.md"), ("table1", tmp_path / "t1" / "fmnist.md")):
        for model in ("dws", "rt"):  # a run of one model's cells rewrites the table with both models' rows
            r = cli("nngraph.experiments.headline", "--aggregate-only", "--rows", rows, "--out", out, "--runs", runs,
                    "--models", model, "--epochs", "1", "1", "--table1-out", tmp_path / "t1")
            assert r.returncode == 0, r.stderr[-2000:]
            lines = table.read_text().splitlines()
            for label in ("DWS", "GNN"):
                row = next(line for line in lines if line.startswith(f"| No augmentation | {label} |"))
                assert row.split("|")[3].strip().endswith("(n=1)"), row


def test_headline_keeps_a_table_whose_cells_it_cannot_check_without_their_data(data, tmp_path):
    from nngraph.experiments import headline, table1
    runs, out = tmp_path / "inrs", tmp_path / "headline"
    shutil.copytree(data, runs / "fmnist2k-v1")  # the 1-view data only
    table1.write_tables({("none", "dws", 10): [64.0, 65.0]}, out, "fmnist", [1, 10], list(headline.MODELS),
                        rows=headline.ROWS, name="table")  # written when the 10-view data was here
    before = (out / "table.md").read_text()
    r = cli("nngraph.experiments.headline", "--aggregate-only", "--out", out, "--runs", runs, "--epochs", "1", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "table.md kept as it is: its cells of 10 view(s) cannot be checked without" in r.stdout
    assert (out / "table.md").read_text() == before and "64.50 ± 0.71" in before
    (out / "table.csv").unlink()  # a table that reports no 10-view cell is rewritten, leaving them out
    r = cli("nngraph.experiments.headline", "--aggregate-only", "--out", out, "--runs", runs, "--epochs", "1", "1")
    assert r.returncode == 0 and "10-view cells left out" in r.stdout and "64.50" not in (out / "table.md").read_text()


# A disk that fills up during the second write of last.ckpt: half the bytes land, then ENOSPC.
FULL_DISK = '''
import builtins, errno, os
writes, real_open, real_fdopen = [0], builtins.open, os.fdopen
class Full:
    def __init__(self, f): self.f = f
    def write(self, data):
        self.f.write(bytes(data)[:len(data) // 2]); self.f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")
    def __getattr__(self, k): return getattr(self.f, k)
    def __enter__(self): return self
    def __exit__(self, *a): self.f.close()
def fails(name, mode):
    if "w" in mode and "last.ckpt" in str(name):
        writes[0] += 1
        return writes[0] == 2
    return False
def open_(file, mode="r", *a, **k):
    f = real_open(file, mode, *a, **k)
    return Full(f) if isinstance(file, (str, os.PathLike)) and fails(file, mode) else f
def fdopen(fd, mode="r", *a, **k):
    f = real_fdopen(fd, mode, *a, **k)
    return Full(f) if fails(os.readlink(f"/proc/self/fd/{fd}"), mode) else f
builtins.open, os.fdopen = open_, fdopen
import shutil; shutil._USE_CP_SENDFILE = False  # a copy across file systems writes through open() too
'''


def test_a_full_disk_while_checkpointing_leaves_a_run_that_resumes(data, tmp_path):
    out = tmp_path / "run"
    # a temporary folder on another file system, where a staged checkpoint would be copied, not renamed
    env = {"TMPDIR": "/dev/shm"} if Path("/dev/shm").is_dir() else {}
    full = cli("nngraph.experiments.train", *_train_argv(data, out, "--epochs", "3"), prelude=FULL_DISK, env=env)
    assert full.returncode == 2 and full.stderr.strip().splitlines() == [
        f"error: {out / 'checkpoints' / 'last.ckpt'}: No space left on device"], full.stderr[-2000:]
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0  # epoch 0's, whole
    assert not list((out / "checkpoints").glob(".*.tmp"))
    again = cli("nngraph.experiments.train", *_train_argv(data, out, "--epochs", "3"))
    assert again.returncode == 0 and "resuming from last.ckpt" in again.stdout, again.stderr[-2000:]
    assert json.loads((out / RESULT).read_text())["epochs"] == 3


def test_a_second_process_on_the_same_folder_is_refused_until_the_first_dies(data, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from experiments.records import lock_folder; f = lock_folder(Path(sys.argv[1])); "
                               "print('locked', flush=True); time.sleep(120)", str(tmp_path)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=rf"out: {tmp_path} is in use by process {holder.pid} "):
            train(_args(data, tmp_path, "dws", "none", 1))
    finally:
        holder.kill()
        holder.wait()
    assert 0 <= train(_args(data, tmp_path, "dws", "none", 1))["test_acc"] <= 1  # released by its death
    with lock_folder(tmp_path):  # and by closing it, within one process
        pass
    lock_folder(tmp_path).close()


def test_checkpoints_without_a_run_record_are_not_resumed(data, tmp_path):
    train(_args(data, tmp_path / "a", "dws", "none", 1))
    shutil.copytree(tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints")  # a foreign run's, say
    with pytest.raises(ValueError, match="holds checkpoints but no run.json: a run of unknown settings"):
        train(_args(data, tmp_path / "b", "dws", "none", 1, "--lr", "0.1"))


def test_a_resumed_run_counts_the_time_of_every_session(data, tmp_path):
    train(_args(data, tmp_path, "dws", "none", 1))
    (tmp_path / RESULT).unlink()
    run_json = json.loads((tmp_path / "run.json").read_text())
    (tmp_path / "run.json").write_text(json.dumps({**run_json, "epochs": 2}))
    last = tmp_path / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    assert 0 < ckpt["callbacks"]["Stopwatch"]["seconds"] < 1000
    ckpt["callbacks"]["Stopwatch"]["seconds"] = 1000.0  # as if the first session had trained for 1000 s
    torch.save(ckpt, last)
    assert train(_args(data, tmp_path, "dws", "none", 2))["seconds"] > 1000


def test_a_checkpoint_with_code_in_it_is_set_aside_unrun(tmp_path, capsys):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save({"epoch": 1, "state_dict": {}, "payload": Path("x")}, folder / "last.ckpt")  # a pickled object
    assert resume_point(folder) is None
    assert "last.ckpt: does not load" in capsys.readouterr().out and not (folder / "last.ckpt").exists()


@pytest.mark.parametrize("extra, says", [
    (("--accelerator", "tpu"), "--accelerator tpu"),
    (("--devices", "abc"), "--devices abc"),
    (("--model-kwargs", '{"bogus": 1}'), "model_kwargs: .*bogus"),
])
def test_bad_hardware_and_model_options_are_one_line(data, tmp_path, capsys, extra, says):
    argv = [str(a) for a in _train_argv(data, tmp_path, "--epochs", "1")]
    i = argv.index(extra[0])
    argv[i + 1] = extra[1]
    with pytest.raises(SystemExit) as exit_:
        run(lambda: train_main(argv))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert __import__("re").search(says, err), err


def test_an_out_under_a_file_and_unreadable_records_are_one_line_naming_the_file(data, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exit_:
        run(lambda: train_main([str(a) for a in _train_argv(data, tmp_path / "file" / "run", "--epochs", "1")]))
    assert exit_.value.code == 2 and str(tmp_path / "file") in capsys.readouterr().err
    train(_args(data, tmp_path / "run", "dws", "none", 1))
    for record in ("run.json", RESULT):
        saved = (tmp_path / "run" / record).read_text()
        (tmp_path / "run" / record).write_text("")
        with pytest.raises(ValueError, match=rf"{tmp_path / 'run' / record}: unreadable run record"):
            train(_args(data, tmp_path / "run", "dws", "none", 1))
        (tmp_path / "run" / record).write_text(saved)


def test_a_legacy_run_is_adopted_only_where_its_logs_prove_the_data(data, tmp_path):
    from nngraph.experiments.adopt_runs import adopt
    other = tmp_path / "other"
    build_inrs("fmnist-subset", other, limit=24, steps=3, progress=False)  # same sizes, other INRs
    out = tmp_path / "run"
    train(_args(data, out, "dws", "none", 1))
    record = json.loads((out / "run.json").read_text())
    legacy = {k: v for k, v in record.items() if k != "data_id"}  # as recorded before data ids
    (out / "run.json").write_text(json.dumps(legacy))
    result = json.loads((out / RESULT).read_text())
    (out / RESULT).write_text(json.dumps({k: v for k, v in result.items() if k not in ("identity", "data_id")}))
    with pytest.raises(ValueError, match="data_id \\('<missing>' there"):
        train(_args(data, out, "dws", "none", 1))
    assert adopt(out, other) == "its normalisation statistics differ from the dataset's: not adopted"
    relabelled = tmp_path / "relabelled"  # the same INRs, every test label changed
    from nngraph.datasets.public import write_dataset
    from nngraph import INRDataset
    sets = {s: INRDataset(data, s) for s in ("train", "val", "test")}
    params = torch.cat([sets[s].params() for s in sets])
    labels = torch.cat([sets["train"].labels, sets["val"].labels, (sets["test"].labels + 1) % 10])
    n = {s: len(sets[s]) for s in sets}
    cuts = {"train": range(n["train"]), "val": range(n["train"], n["train"] + n["val"]),
            "test": range(n["train"] + n["val"], sum(n.values()))}
    m = write_dataset(params, labels, sets["train"].spec, relabelled, splits=cuts, classes=sets["train"].classes)
    m["stats"] = read_manifest(data)["stats"]  # as an import of the same weights would compute them
    write_manifest(relabelled, m)
    assert adopt(out, relabelled).endswith("on the dataset's test split, it recorded "
                                           f"{100 * result['test_acc']:.2f}%: other test INRs or labels: not adopted")
    best = out / "checkpoints" / result["best_checkpoint"]
    best.rename(best.with_suffix(".away"))
    assert adopt(out, data).startswith("no checkpoints/") and "not adopted" in adopt(out, data)
    best.with_suffix(".away").rename(best)
    assert adopt(out, data) == "adopted"
    assert train(_args(data, out, "dws", "none", 1))["test_acc"] == result["test_acc"]  # recognised, not rerun
