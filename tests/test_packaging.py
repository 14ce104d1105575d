"""The package installs like one: the core needs no training or plotting stack, and says its version."""
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("lightning", "pytorch_lightning", "torchmetrics", "tensorboard", "matplotlib", "networkx", "yaml",
         "jsonargparse")


def test_the_core_dependencies_leave_out_the_training_and_plotting_stack():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    assert not any(name in core for name in ("lightning", "tensorboard", "matplotlib", "networkx", "torchmetrics"))
    extras = project["optional-dependencies"]
    assert {"train", "plot", "networkx", "dev"} <= set(extras)
    assert any(d.startswith("lightning") for d in extras["train"])


def test_nngraph_converts_augments_batches_and_classifies_without_them(tmp_path):
    """Run on a copy of this environment's site-packages without them (links to every other entry),
    as a plain ``pip install nngraph`` leaves it."""
    import site
    packages = Path(next(p for p in site.getsitepackages() if Path(p, "torch").is_dir()))
    plain = tmp_path / "site-packages"
    plain.mkdir()
    for entry in packages.iterdir():
        name = entry.name.split("-")[0].split(".")[0].lower()
        if name not in HEAVY and name not in ("pytorch_lightning", "lightning_utilities"):
            (plain / entry.name).symlink_to(entry)
    code = f"""
import site, sys
site.addsitedir({str(plain)!r})  # its .pth files too: the editable install's finder
import torch, nngraph
from nngraph import augment
from nngraph.models import DWSNet
for name in {HEAVY!r}:
    assert name not in sys.modules, name
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise AssertionError(name + " is importable here")
spec = nngraph.NetworkSpec((2, 8, 8, 1), output_offset=0.5)
g = nngraph.to_graph(nngraph.Siren(spec, init="reference"), y=1)
batch = nngraph.to_batch(0.1 * torch.randn(4, spec.num_params), spec, torch.arange(4) % 2)
out = augment.build("siren_negation+mixup_signed_weight_matching", num_classes=2)(batch)
logits = DWSNet(spec, 2, hidden_dim=8, num_layers=1, readout_hidden=8)(nngraph.collate([g, g]))
assert logits.shape == (2, 2) and out.num_graphs == 4
print(nngraph.__version__)
"""
    r = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == __import__("nngraph").__version__


def test_license_and_type_marker_ship():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert (REPO / "nngraph" / "py.typed").is_file()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["nngraph"]
