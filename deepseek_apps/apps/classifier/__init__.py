"""Torchvision image classifiers as an ``optimize`` target: build, train, and compress.

Not one of the four applications: a target built on ``core.compress`` for
``deepseek-apps optimize classifier --arch NAME --weights FILE``.

Example:
    >>> from deepseek_apps.apps.classifier import build_classifier
    >>> model = build_classifier("resnet18", num_classes=6)
"""

from .model import IMAGENET_MEAN, IMAGENET_STD, ClassifierGraph, accuracy, build_classifier, prepare_pixels
from .optimize import classifier_target, optimize_classifier
from .train import distill_finetune, train_classifier

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ClassifierGraph",
    "accuracy",
    "build_classifier",
    "classifier_target",
    "distill_finetune",
    "optimize_classifier",
    "prepare_pixels",
    "train_classifier",
]
