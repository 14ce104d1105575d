"""Model sizes and settings. ``paper`` is Appendix C with the reference implementations' settings
(for the RT, the model's defaults); ``small`` is the CPU preset of the main job and the protocols
run on a CPU: the same architectures, narrower and shallower, about 10x cheaper per sample."""
from __future__ import annotations

PRESETS: dict[str, dict[str, dict]] = {
    "paper": {"rt": {}, "dws": {"pooling": "max", "batch_norm": "equivariant", "head": "linear"}},
    "small": {
        # Attention along edges: as accurate as all pairs here at half the time (README). Two such
        # layers carry no first-layer weight to the output neurons of a 2-32-32-1 network, so the
        # readout reads every role (hidden layers averaged).
        "rt": {"num_layers": 2, "node_dim": 32, "edge_dim": 16, "num_heads": 4, "attention_dim": 32,
               "node_hidden": 64, "edge_hidden": 32, "readout_hidden": 64, "num_frequencies": 32,
               "attention": "edges", "readout": "roles"},
        "dws": {"hidden_dim": 32, "num_layers": 2, "readout_hidden": 64},
    },
}


def model_kwargs(preset: str, model: str, overrides: dict | None = None) -> dict:
    if preset not in PRESETS:
        raise ValueError(f"preset: expected one of {sorted(PRESETS)}, got {preset!r}")
    return {**PRESETS[preset].get(model, {}), **(overrides or {})}  # a registered model: its own defaults
