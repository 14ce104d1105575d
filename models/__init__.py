"""Weight-space classifiers that read `nngraph` graph batches: the Relation Transformer (neural
graphs) and DWSNet (equivariant layers on dense per-layer views); `DWSEquivariant`, per-weight and per-bias
outputs as a graph of the input's structure; the layers and the dense piece layout
(`to_pieces`, `from_pieces`) as building blocks."""
from .dwsnet import DWSLayer, DWSNet, from_pieces, pieces_of, to_pieces
from .equivariant import DWSEquivariant
from .encoding import FourierFeatures
from .message_graph import MessageGraph
from .relation_transformer import RelationTransformer, RelationTransformerLayer
from .relational_attention import relational_attention
from .registry import MODELS, register

__all__ = ["RelationTransformer", "RelationTransformerLayer", "DWSNet", "DWSLayer", "DWSEquivariant", "to_pieces",
           "from_pieces", "pieces_of", "FourierFeatures", "MessageGraph",
           "relational_attention", "MODELS", "register"]
