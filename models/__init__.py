"""Model builders, training, evaluation and the model bundle (see models/README.md)."""

import os

#: The bundled model: package data of ``models``, so it ships inside the wheel.
DEFAULT_BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled",
                              "multimodal")
