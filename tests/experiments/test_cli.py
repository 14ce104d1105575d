"""Every command line checks its numbers where they enter: a bad value is one line, ``error: ...``
naming the argument, and exit status 2."""
import pytest

from nngraph.experiments import (figure_augmentations, fit_inrs, headline, import_inrs, main, per_class,
                                 probe_features, studies, table1, train)
from nngraph.experiments.benchmarks import augment as bench_augment, fit as bench_fit, graph as bench_graph, \
    models as bench_models
from nngraph.experiments.cli import run

# (entry point, arguments it needs anyway, numeric argument, whether 0 is allowed)
ARGUMENTS = [
    (train.main, ["--data", "d"], "--epochs", False), (train.main, ["--data", "d"], "--batch-size", False),
    (train.main, ["--data", "d"], "--views", False), (train.main, ["--data", "d"], "--lr", False),
    (train.main, ["--data", "d"], "--weight-decay", True), (train.main, ["--data", "d"], "--warmup-steps", True),
    (train.main, ["--data", "d"], "--seed", True), (train.main, ["--data", "d"], "--threads", False),
    (train.main, ["--data", "d"], "--gradient-clip", False), (train.main, ["--data", "d"], "--limit-train-batches", False),
    (train.main, ["--data", "d"], "--num-workers", True), (train.main, ["--data", "d"], "--num-nodes", False),
    (fit_inrs.main, [], "--views", False), (fit_inrs.main, [], "--limit", False), (fit_inrs.main, [], "--steps", False),
    (fit_inrs.main, [], "--seed", True), (fit_inrs.main, [], "--batch-size", False),
    (fit_inrs.main, [], "--shard-size", False), (fit_inrs.main, [], "--sdf-points", False),
    (fit_inrs.main, [], "--points-per-step", False),
    (table1.main, ["--data", "d", "--out", "o"], "--seeds", True), (table1.main, ["--data", "d", "--out", "o"], "--views", False),
    (table1.main, ["--data", "d", "--out", "o"], "--epochs", False),
    (main.main, [], "--epochs", False), (main.main, [], "--seed", True),
    (headline.main, [], "--seeds", True), (headline.main, [], "--threads", False),
    (studies.main, ["inr-recipes"], "--seeds", True), (studies.main, ["inr-recipes"], "--threads", False),
    (figure_augmentations.main, [], "--indices", True), (figure_augmentations.main, [], "--seed", True),
    (probe_features.main, [], "--seed", True), (probe_features.main, [], "--threads", False),
    (per_class.main, ["run"], "--threads", False),
    (bench_graph.main, [], "--batch-size", False), (bench_fit.main, [], "--steps", False),
    (bench_fit.main, [], "--repeats", False), (bench_augment.main, [], "--min-time", True),
    (bench_models.main, [], "--batch-size", False), (bench_models.main, [], "--warmup", True),
    (import_inrs.main, ["--splits", "s", "--out", "o"], "--view-level", False),
    (import_inrs.main, ["--splits", "s", "--out", "o"], "--num-classes", False),
]
BAD = ["-1", "nan", "inf", "-inf", "abc", "1e400"]


def one_line_error(entry, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        run(lambda: entry(argv))
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("entry, needed, name, zero_ok", ARGUMENTS, ids=lambda a: getattr(a, "__module__", a))
def test_bad_numbers_are_one_line_errors(entry, needed, name, zero_ok, capsys):
    for value in BAD + ([] if zero_ok else ["0"]):
        err = one_line_error(entry, needed + [name, value], capsys)
        assert name in err, err


def test_json_options_must_be_objects(capsys):
    err = one_line_error(train.main, ["--data", "d", "--augment-options", "[1, 2]"], capsys)
    assert "--augment-options" in err and "JSON object" in err
    err = one_line_error(train.main, ["--data", "d", "--model-kwargs", "{not json"], capsys)
    assert "--model-kwargs" in err


def test_value_errors_of_a_run_are_one_line_errors(tmp_path, capsys):
    err = one_line_error(train.main, ["--data", str(tmp_path / "missing")], capsys)
    assert "not a directory" in err


@pytest.mark.parametrize("value", ["2-x-1", "2", "2-0-1", "", "2--1"])
def test_layer_sizes_are_checked(value, capsys):
    for entry, name in ((bench_augment.main, "--spec"), (bench_augment.main, "--matching-specs"),
                        (bench_graph.main, "--spec")):
        err = one_line_error(entry, [name, value], capsys)
        assert name in err and "layer sizes" in err, err


@pytest.mark.parametrize("argv, says", [(["--preset", "bogus"], "--preset"), (["--augment", "flip"], "unknown augmentation")])
def test_main_checks_its_options_before_fitting(tmp_path, capsys, argv, says):
    from nngraph.experiments import main as main_job
    with pytest.raises(SystemExit) as exit_:
        run(lambda: main_job.main(argv + ["--out", str(tmp_path)]))
    assert exit_.value.code == 2 and says in capsys.readouterr().err and not (tmp_path / "inrs").exists()


@pytest.mark.parametrize("bad", ["bogus", "tpu", "cuda:7"])
def test_fit_inrs_device_is_checked_where_it_enters(tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as exit_:
        fit_inrs.main(["--device", bad, "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2 and "--device" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_help_shows_a_default_once_and_only_where_there_is_one(capsys):
    with pytest.raises(SystemExit):
        fit_inrs.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text  # an option without a default says nothing about it
    assert "validation and test objects) (default: 0)" in text  # a zero is a default
    assert "(default ./runs/inrs/<dataset>-v<views>) (default" not in text  # nor twice where the help says it
    assert text.count("default: fmnist-subset") == 1
