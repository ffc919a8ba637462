"""sonogen: learn from a folder of sounds and make new ones.

The Python face lives in :mod:`sonogen.api`; the names below are re-exported lazily so that
``import sonogen`` stays fast (no torch or librosa at import time).
"""

from sonogen.errors import SonogenError

__version__ = "0.1.0"
__all__ = [
    "SonogenError",
    "prepare",
    "train",
    "load",
    "generate",
    "evaluate",
    "compare",
    "make_dataset",
    "__version__",
]


def __getattr__(name: str):
    if name in {"prepare", "train", "load", "generate", "evaluate", "compare", "make_dataset"}:
        from sonogen import api

        return getattr(api, name)
    raise AttributeError(f"module 'sonogen' has no attribute {name!r}")
