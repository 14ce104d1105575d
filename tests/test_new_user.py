"""The library as a new user meets it: a project of their own, with its own ``models/`` and
``experiments/`` packages first on the path, converting its own SIREN, composing augmentations,
training its own classifier and running its own augmentation from the command line."""
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MYAUG = '''
import torch
from torch_geometric.transforms import BaseTransform
from nngraph import augment


class FlipOutput(BaseTransform):
    """Negates the last layer: a user's own augmentation."""
    def __init__(self, p: float = 0.5):
        self.p = p

    def forward(self, data):
        data = data.clone()
        last = data.layer == data.layer.max()
        data.x = torch.where(last.unsqueeze(1), -data.x, data.x)
        return data


augment.register("flip_output", FlipOutput)
'''

SCRIPT = '''
import copy
import torch
from torch import nn
import lightning as L

import models, experiments  # the project's own packages, not the library's
assert models.OWN == "models" and experiments.OWN == "experiments"

import nngraph
from nngraph import augment
from nngraph.lightning import INRDataModule
from nngraph.experiments.fit_inrs import SUBSET_DIR
from nngraph.lightning import WeightSpaceClassifier
from models.sine import Sine

# 1. my own SIREN (my Sine, nested blocks, w0=1) in and back out into my own keys
torch.manual_seed(0)
mine = nn.Sequential(nn.Sequential(nn.Linear(2, 16), Sine(1.0)), nn.Sequential(nn.Sequential(nn.Linear(16, 16), Sine(1.0))),
                     nn.Linear(16, 1))
g = nngraph.to_graph(mine)
x = torch.rand(500, 2) * 2 - 1
back = copy.deepcopy(mine)
back.load_state_dict(nngraph.to_state_dict(nngraph.permute(g, nngraph.random_perms(g)), like=mine))
with torch.no_grad():
    assert (back(x) - mine(x)).abs().max() < 1e-6

# 2. Normalize and augmentations, in both orders: the right result or a one-line refusal
stats = {"weight_mean": [0.0] * 3, "weight_std": [0.5] * 3, "bias_mean": [0.1] * 3, "bias_std": [0.2] * 3}
norm, negate = nngraph.Normalize(stats), augment.SirenNegation(p=1.0)
ok = norm.inverse(norm(negate(g.clone())))
with torch.no_grad():
    assert (nngraph.to_module(ok)(x) - mine(x)).abs().max() < 1e-5
try:
    negate(norm(g.clone()))
    raise AssertionError("normalised first: not refused")
except ValueError as e:
    assert "before Normalize" in str(e) and "\\n" not in str(e)

# 3. my own classifier trained through WeightSpaceClassifier
class MeanOfLayers(nn.Module):
    def __init__(self, spec, num_classes):
        super().__init__()
        self.head = nn.Linear(2 * spec.num_layers, num_classes)

    def forward(self, batch):
        weights, biases = nngraph.layer_views(batch)
        feats = [w.mean(dim=(1, 2)) for w in weights] + [b.mean(dim=1) for b in biases]
        return self.head(torch.stack(feats, dim=1))

nngraph.build_inr_dataset("fmnist-subset", "inrs", root=SUBSET_DIR, limit=24, steps=2, progress=False)
dm = INRDataModule("inrs", batch_size=8, augmentation="mixup")
dm.setup("fit")
module = WeightSpaceClassifier(dm.spec, dm.num_classes, model=MeanOfLayers(dm.spec, dm.num_classes),
                               batch_transform=dm.batch_transform, normalize=dm.normalize)
trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False)
trainer.fit(module, datamodule=dm)
assert 0 <= trainer.test(module, datamodule=dm, verbose=False)[0]["test_acc"] <= 1
print("all good")
'''


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for name in ("models", "experiments"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text(f"OWN = {name!r}\n")
    (root / "models" / "sine.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn


        class Sine(nn.Module):
            def __init__(self, w0=1.0):
                super().__init__()
                self.w0 = w0

            def forward(self, x):
                return torch.sin(self.w0 * x)
        '''))
    (root / "myaug.py").write_text(MYAUG)
    (root / "use_it.py").write_text(SCRIPT)
    return root


def _run(root: Path, *argv):
    env = {"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *argv], cwd=root, capture_output=True, text=True, timeout=600, env=env)


def test_the_library_lives_beside_a_users_own_models_and_experiments(tmp_path):
    root = _project(tmp_path)
    done = _run(root, "use_it.py")
    assert done.returncode == 0 and "all good" in done.stdout, done.stderr[-3000:]


def test_a_registered_augmentation_runs_from_the_command_line(tmp_path):
    root = _project(tmp_path)
    built = _run(root, "-c", "import nngraph; from nngraph.experiments.fit_inrs import SUBSET_DIR; "
                 "nngraph.build_inr_dataset('fmnist-subset', 'inrs', root=SUBSET_DIR, limit=24, steps=2, progress=False)")
    assert built.returncode == 0, built.stderr[-2000:]
    argv = ["-m", "nngraph.experiments.train", "--import", "myaug.py", "--data", "inrs", "--model", "dws",
            "--augment", "flip_output+mixup", "--augment-options", '{"flip_output": {"p": 1.0}}', "--epochs", "1",
            "--batch-size", "8", "--model-kwargs", '{"hidden_dim": 8, "num_layers": 1, "readout_hidden": 8}',
            "--out", "run", "--accelerator", "cpu", "--devices", "1", "--quiet"]
    done = _run(root, *argv)
    assert done.returncode == 0 and "test accuracy" in done.stdout, done.stderr[-3000:]
    config = (root / "run" / "config.yaml").read_text()
    assert "augment: flip_output+mixup" in config and "imports: [myaug.py]" in config
    unknown = _run(root, *[a if a != "flip_output+mixup" else "flip_output" for a in argv[:2] + argv[4:]])
    assert unknown.returncode == 2 and "unknown augmentation" in unknown.stderr  # without --import: not known
