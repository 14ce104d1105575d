"""Extension points: your own model by module or by name, options from a YAML file."""
import pytest
import yaml
from torch import nn

from nngraph import models
from nngraph.experiments.config import parse
from nngraph.experiments.fit_inrs import build as build_inrs
from nngraph.lightning import WeightSpaceClassifier
from nngraph.experiments.train import main as train_main, parser, train


class Tiny(nn.Module):
    def __init__(self, spec, num_classes, width: int = 4):
        super().__init__()
        self.head = nn.Linear(spec.num_params, num_classes)

    def forward(self, batch):
        import nngraph
        return self.head(nngraph.flat_params(batch))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("inrs")
    build_inrs("fmnist-subset", out, limit=24, steps=2, progress=False)
    return out


def test_a_registered_model_is_chosen_by_name_on_the_command_line(data, tmp_path, capsys):
    models.register("tiny_test_model", Tiny, replace=True)
    train_main(["--data", str(data), "--model", "tiny_test_model", "--model-kwargs", '{"width": 2}', "--epochs", "1",
                "--batch-size", "8", "--out", str(tmp_path), "--quiet", "--accelerator", "cpu", "--devices", "1"])
    assert "test accuracy" in capsys.readouterr().out
    with pytest.raises(ValueError, match="already registered"):
        models.register("tiny_test_model", Tiny)
    with pytest.raises(ValueError, match="identifier"):
        models.register("my+model", Tiny)


def test_the_classifier_takes_a_module(data):
    from nngraph.lightning import INRDataModule
    dm = INRDataModule(data)
    dm.setup("fit")
    module = WeightSpaceClassifier(dm.spec, 10, model=Tiny(dm.spec, 10))
    assert isinstance(module.net, Tiny) and module.hparams.model == "Tiny"
    with pytest.raises(ValueError, match="model_kwargs: given with a module"):
        WeightSpaceClassifier(dm.spec, 10, model=Tiny(dm.spec, 10), model_kwargs={"width": 3})


def test_options_from_a_yaml_file_with_flags_overriding_and_the_resolved_configuration_saved(data, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"data": str(data), "model": "dws", "epochs": 3, "batch_size": 8, "lr": "1e-3",
                                      "augment": "mixup", "augment_options": {"mixup": {"lam_range": [0.8, 1.0]}},
                                      "model_kwargs": {"hidden_dim": 8, "num_layers": 1, "readout_hidden": 8},
                                      "accelerator": "cpu", "devices": 1}))
    args = parse(parser, ["--config", str(config), "--epochs", "1", "--out", str(tmp_path / "run")])
    assert args.epochs == 1 and args.lr == 1e-3 and args.model == "dws"  # the flag wins; types are checked
    assert args.augment_options == {"mixup": {"lam_range": [0.8, 1.0]}}
    assert args.devices == "1"  # as the flag gives it: the same run identity
    result = train(args)
    import torch
    made = result["provenance"]  # what a rerun elsewhere needs to explain a difference
    assert made["packages"]["torch"] == torch.__version__ and made["packages"]["lightning"] and made["python"]
    assert made["cpu_capability"] == torch.backends.cpu.get_cpu_capability()  # AVX2, AVX512, DEFAULT, ...
    assert made["threads"] == torch.get_num_threads() and made["launched"] in (
        "fresh process", *(f"in a process after {n} other trainings" for n in range(1, 100)))
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["epochs"] == 1 and saved["augment"] == "mixup" and saved["batch_size"] == 8
    assert "configuration (" in capsys.readouterr().out
    again = parse(parser, ["--config", str(tmp_path / "run" / "config.yaml"), "--out", str(tmp_path / "again")])
    same = lambda a: {k: v for k, v in vars(a).items() if k not in ("out", "config")}  # noqa: E731
    assert same(again) == same(args)  # a run's own config.yaml reads back as that run
    for bad, says in (({"epoch": 2}, "unknown option 'epoch'"), ({"epochs": "many"}, "epochs: expected a positive"),
                      ({"model": "nope"}, "model: expected one of")):
        config.write_text(yaml.safe_dump({"data": str(data), **bad}))
        with pytest.raises(ValueError, match=says):
            parse(parser, ["--config", str(config)])
    with pytest.raises(ValueError, match="--import no_such_module_here: ModuleNotFoundError"):
        parse(parser, ["--import", "no_such_module_here", "--data", str(data)])


PLUGIN = ("from torch import nn\nimport nngraph\nfrom nngraph import models\n"
          "class Head(nn.Module):\n"
          "    def __init__(self, spec, num_classes):\n"
          "        super().__init__()\n"
          "        self.head = nn.Linear(spec.num_params, num_classes)\n"
          "    def forward(self, batch):\n"
          "        return self.head(nngraph.flat_params(batch))\n"
          "models.register('recorded_plugin_model', Head, replace=True)\n")


def test_a_config_imports_nothing_unless_the_command_line_trusts_it(data, tmp_path, monkeypatch, capsys):
    """A colleague's run folder is data: its config.yaml's ``imports`` run only on an explicit opt-in,
    the files found beside the config (not in the working folder), and never for ``--help``."""
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / "recorded_plugin.py").write_text(PLUGIN)
    (tmp_path / "recorded_plugin.py").write_text("raise SystemExit('the working folder copy ran')\n")
    monkeypatch.chdir(tmp_path)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({"data": str(data), "model": "recorded_plugin_model", "imports": ["recorded_plugin.py"],
                                      "config": "the-file-that-run-read.yaml"}))
    models.MODELS.pop("recorded_plugin_model", None)
    with pytest.raises(ValueError, match="runs no code on its own: pass --trust-config-imports"):
        parse(parser, ["--config", str(config)])
    assert "recorded_plugin_model" not in models.MODELS
    with pytest.raises(SystemExit):
        parse(parser, ["--config", str(config), "--trust-config-imports", "--help"])
    assert "recorded_plugin_model" not in models.MODELS  # --help imported nothing
    args = parse(parser, ["--config", str(config), "--trust-config-imports"])
    assert args.model == "recorded_plugin_model" and args.imports == [str(folder / "recorded_plugin.py")]
    assert f"importing {folder / 'recorded_plugin.py'}" in capsys.readouterr().err
    config.write_text(yaml.safe_dump({"data": str(data), "imports": "recorded_plugin.py"}))
    with pytest.raises(ValueError, match="imports: expected a list"):
        parse(parser, ["--config", str(config)])


def test_a_plugin_that_exits_is_an_error_naming_it(data, tmp_path):
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
    with pytest.raises(ValueError, match=r"exits.py: the module called sys.exit\(0\)"):
        parse(parser, ["--import", str(tmp_path / "exits.py"), "--data", str(data)])


def test_a_plugin_is_part_of_the_run_identity(data, tmp_path, monkeypatch):
    """A plugin that replaces the built-in ``noise`` trains another run than the built-in: its own
    folder and identity, and a changed plugin another again."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    plug = tmp_path / "plug.py"
    plug.write_text("from nngraph import augment\n"
                    "class Loud(augment.GaussianNoise):\n    pass\n"
                    "augment.register('noise', Loud, replace=True)\n")

    def identity_of(*extra):
        code = ("import json, sys\nfrom nngraph.experiments.config import parse\n"
                "from nngraph.experiments.train import identity, parser, run_dir\n"
                "a = parse(parser, sys.argv[1:])\nprint(json.dumps([identity(a), str(run_dir(a))]))\n")
        r = subprocess.run([sys.executable, "-c", code, "--data", str(data), "--augment", "noise", *extra],
                           cwd=repo, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        import json
        return json.loads(r.stdout)

    (builtin, builtin_dir), (mine, mine_dir) = identity_of(), identity_of("--import", str(plug))
    assert "plugins" not in builtin and builtin_dir != mine_dir
    assert mine["plugins"]["replaced"] == ["augment:noise"] and str(plug) in mine["plugins"]["sources"]
    plug.write_text(plug.read_text() + "# changed\n")
    changed, changed_dir = identity_of("--import", str(plug))
    assert changed["plugins"]["sources"] != mine["plugins"]["sources"] and changed_dir != mine_dir


@pytest.mark.parametrize("bad, says", [
    ({"epochs": [1, 60]}, "epochs: expected a positive integer, got a list"),
    ({"epochs": None}, "epochs: expected a value .*got null"),
    ({"seed": None}, "seed: expected a value .*got null"),
    ({"batch_size": None}, "batch_size: expected a value"),
    ({"weight_decay": None}, "weight_decay: expected a value"),
    ({"epochs": {"a": 1}}, "epochs: expected a positive integer, got a mapping"),
    ({"augment_options": [1]}, "augment_options: expected a JSON object, got a list"),
])
def test_config_values_are_checked_against_their_options_type(data, tmp_path, bad, says):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": str(data), **bad}))
    with pytest.raises(ValueError, match=says):
        parse(parser, ["--config", str(config)])


def test_a_config_that_is_not_utf8_is_named(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_bytes(b"epochs: \xff\xfe\n")
    with pytest.raises(ValueError, match=f"--config {config}: unreadable .UnicodeDecodeError"):
        parse(parser, ["--config", str(config)])


def test_a_model_factory_that_returns_no_module_is_named(data):
    models.register("not_a_module", lambda spec, num_classes: "oops", replace=True)
    from nngraph.lightning import INRDataModule
    dm = INRDataModule(data)
    dm.setup("fit")
    with pytest.raises(ValueError, match="factory registered as 'not_a_module' returned str"):
        WeightSpaceClassifier(dm.spec, 10, model="not_a_module")


def test_a_dwsnet_too_big_for_the_machine_is_refused_before_allocating(data):
    import nngraph
    wide = nngraph.NetworkSpec((784, 32, 32, 10))  # DWSNet's layer-to-layer maps grow with the widths' product
    with pytest.raises(ValueError, match=r"DWSNet: .*784-32-32-10.* needs [\d,]+ weights .* GiB"):
        WeightSpaceClassifier(wide, 10, model="dws")


def test_any_registered_model_too_big_for_the_machine_is_refused_before_allocating(data, monkeypatch):
    import torch
    from nngraph.lightning import INRDataModule
    built = []

    def huge(spec, num_classes):  # 10^11 weights: 373 GiB, built for real only if the check lets it through
        built.append(torch.empty(0).device.type)
        return torch.nn.Linear(10**6, 10**5)
    monkeypatch.setitem(models.MODELS, "huge", huge)
    dm = INRDataModule(data)
    with pytest.raises(ValueError, match=r"model: huge on .* would hold 100,000,100,000 parameters \(373 GiB"):
        WeightSpaceClassifier(dm.spec, 10, model="huge")
    assert built == ["meta"]  # sized on the meta device, never allocated
