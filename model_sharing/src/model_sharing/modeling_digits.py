"""The model's structure as code, in a file that ships INSIDE the model folder.

This file imports only torch and transformers, so `save_pretrained` can copy it next to the
weights and a stranger can load the folder with `trust_remote_code=True` - which runs this
file. That is the pickle question again: only say yes to code you have read.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput


class DigitsConfig(PretrainedConfig):
    """Every hyperparameter the structure needs; saved as config.json with `model_type`."""

    model_type = "digits-mlp"

    def __init__(self, n_features: int = 64, hidden: int = 64, n_classes: int = 10, **kwargs):
        self.n_features = n_features
        self.hidden = hidden
        self.n_classes = n_classes
        super().__init__(**kwargs)


class DigitsForImageClassification(PreTrainedModel):
    """The same layers as `DigitsMLP`, with transformers' save/load, outputs and loss."""

    config_class = DigitsConfig
    main_input_name = "pixel_values"

    def __init__(self, config: DigitsConfig):
        super().__init__(config)
        self.net = nn.Sequential(
            nn.Linear(config.n_features, config.hidden),
            nn.ReLU(),
            nn.Linear(config.hidden, config.n_classes),
        )
        self.post_init()

    def forward(
        self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs
    ) -> ImageClassifierOutput:
        logits = self.net(pixel_values)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)
