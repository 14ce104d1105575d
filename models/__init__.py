"""Weight-space classifiers that read `nngraph` graph batches: the Relation Transformer (neural
graphs) and DWSNet (equivariant layers on dense per-layer views)."""
from .dwsnet import DWSLayer, DWSNet
from .encoding import FourierFeatures
from .message_graph import MessageGraph
from .relation_transformer import RelationTransformer, RelationTransformerLayer
from .relational_attention import relational_attention
from .registry import MODELS, register

__all__ = ["RelationTransformer", "RelationTransformerLayer", "DWSNet", "DWSLayer", "FourierFeatures", "MessageGraph",
           "relational_attention", "MODELS", "register"]
