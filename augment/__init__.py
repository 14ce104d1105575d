"""augment: weight-space augmentations as PyG transforms, on a single graph or, vectorised, on a
whole one-spec `Batch` (CPU or GPU).

Input space (first layer): `Translate`, `Rotate`, `Scale`. Generic: `GaussianNoise`, `Dropout`,
`QuantileDropout`. Activation symmetries (function-preserving): `SirenNegation`, `SirenBias`,
`ReLUScale`, `RandomPermutation`. `Mixup` with optional alignment by `weight_matching`, whose assignments `linear_assignment` solves
batched on the graphs' device.
`build("name+name", num_classes)` maps command-line names to transforms.
"""
from .assignment import linear_assignment
from .base import WeightSpaceTransform
from .dropout import Dropout, QuantileDropout
from .input_space import Rotate, Scale, Translate
from .mixup import ALIGNMENTS, Mixup
from .noise import GaussianNoise
from .permutation import RandomPermutation
from .registry import AUGMENTATIONS, Identity, build, register
from .symmetries import ReLUScale, SirenBias, SirenNegation, rescale_neurons
from .weight_matching import SOLVERS, align_to_reference, match_neurons, weight_matching

__all__ = [
    "WeightSpaceTransform", "Translate", "Rotate", "Scale", "GaussianNoise", "Dropout", "QuantileDropout",
    "SirenNegation", "SirenBias", "ReLUScale", "RandomPermutation", "rescale_neurons", "Mixup", "ALIGNMENTS",
    "weight_matching", "match_neurons", "align_to_reference", "SOLVERS", "linear_assignment",
    "AUGMENTATIONS", "Identity", "build", "register",
]
