"""nngraph: neural networks as PyTorch Geometric graphs (neurons are nodes, biases node features,
weights edge features), converted and batched as whole-tensor operations."""
from .spec import NetworkSpec
from .siren import Siren, forward_batched, init_params
from .convert import check_params, load_state_dict, spec_of, to_batch, to_graph, to_module, to_params
from .views import flat_params, layer_views, num_graphs, with_flat_params, with_layers
from .batching import DataLoader, collate
from .permute import invert, permute, random_perms
from .networkx import to_networkx

__all__ = [
    "NetworkSpec", "Siren", "forward_batched", "init_params", "check_params", "load_state_dict", "spec_of",
    "to_batch", "to_graph", "to_module", "to_params", "flat_params", "layer_views", "num_graphs",
    "with_flat_params", "with_layers", "DataLoader", "collate", "invert", "permute", "random_perms", "to_networkx",
]
from .fitting import FitResult, fit_inrs
from .build import build_inr_dataset
from .dataset import INRDataset
from .normalize import Normalize
from .render import coordinate_grid, render_image, render_sdf

__all__ += ["FitResult", "fit_inrs", "build_inr_dataset", "INRDataset", "Normalize", "coordinate_grid",
            "render_image", "render_sdf"]
