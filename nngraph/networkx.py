"""Export to networkx, for inspection and plotting (not a hot path; needs the ``networkx`` extra)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch_geometric.data import Data

from .views import spec_of

if TYPE_CHECKING:
    import networkx as nx


def to_networkx(g: Data) -> "nx.DiGraph":
    """A ``networkx.DiGraph``: nodes carry ``bias`` and ``layer``, edges carry ``weight``."""
    try:
        import networkx as nx
    except ImportError:
        raise ImportError("to_networkx needs networkx: pip install nngraph[networkx]") from None
    spec = spec_of(g)
    if getattr(g, "num_graphs", 1) != 1:
        raise ValueError("to_networkx: expected a single graph, got a batch")
    G = nx.DiGraph(spec=spec)
    bias, layer = g.x[:, 0].tolist(), g.layer.tolist()
    G.add_nodes_from((i, {"bias": b, "layer": l}) for i, (b, l) in enumerate(zip(bias, layer)))
    src, dst = g.edge_index.tolist()
    G.add_weighted_edges_from(zip(src, dst, g.edge_attr[:, 0].tolist()))
    return G
