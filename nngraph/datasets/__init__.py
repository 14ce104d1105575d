"""INR datasets, built on the graph core (`nngraph`): sources (IDX images, ModelNet meshes and point
clouds), SDF sampling, batched SIREN fitting, resumable safetensors shards, `INRDataset`, and
rendering INRs back to images and SDF volumes."""
from .fitting import FitResult, fit_inrs
from .build import build_inr_dataset
from .dataset import INRDataset
from .render import coordinate_grid, render_image, render_sdf
from .public import read_statistics, write_dataset, write_statistics

__all__ = ["FitResult", "fit_inrs", "build_inr_dataset", "INRDataset", "coordinate_grid", "render_image",
           "render_sdf", "write_dataset", "read_statistics", "write_statistics"]
