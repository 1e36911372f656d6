"""Text -> vector (encoders), vector -> nearest ids (faiss), and a Chinese-aware lexical index.

No web, no SQL here. Importing this package loads no model: `load_encoder` does, when called.
"""

from embeddings.encoders import Encoder, EncoderUnavailable, load_encoder
from embeddings.index import VectorIndex
from embeddings.lexical import LexicalIndex, tokens

__all__ = ["Encoder", "EncoderUnavailable", "LexicalIndex", "VectorIndex", "load_encoder", "tokens"]
