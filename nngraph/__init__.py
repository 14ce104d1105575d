"""nngraph: neural networks as PyTorch Geometric graphs (neurons are nodes, biases node features,
weights edge features), converted and batched as whole-tensor operations."""
__version__ = "0.2.0"

from .spec import NetworkSpec
from .siren import Siren, forward_batched, init_params
from .convert import check_params, load_state_dict, to_batch, to_graph, to_module, to_params, to_state_dict
from .views import flat_params, layer_views, num_graphs, spec_of, with_flat_params, with_layers
from .batching import DataLoader, collate
from .permute import invert, permute, random_perms
from .networkx import to_networkx

__all__ = [
    "NetworkSpec", "Siren", "forward_batched", "init_params", "check_params", "load_state_dict", "spec_of",
    "to_batch", "to_graph", "to_module", "to_params", "to_state_dict", "flat_params", "layer_views", "num_graphs",
    "with_flat_params", "with_layers", "DataLoader", "collate", "invert", "permute", "random_perms", "to_networkx",
]
from .normalize import Normalize, is_normalized
# The INR data pipeline lives in `nngraph.datasets` (it builds on the core above, never the reverse);
# its public names are importable from here too.
from .datasets import (FitResult, INRDataset, build_inr_dataset, coordinate_grid, fit_inrs, render_image, render_sdf,
                       write_dataset)

__all__ += ["Normalize", "is_normalized", "FitResult", "fit_inrs", "build_inr_dataset", "INRDataset", "coordinate_grid",
            "render_image", "render_sdf", "write_dataset"]
