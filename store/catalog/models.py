"""The models and datasets the trainer can build (their torch code lives in ``trainer/``)."""

from __future__ import annotations

from store.catalog.base import DatasetSpec, ModelSpec

TIMM_NAME_LENGTH = 35  # "timm/" + the name fits the runs.model column (40 characters)

MODELS = (
    ModelSpec("small_cnn", "small CNN", "A small three-layer CNN with a 64-d feature layer; for digits."),
    ModelSpec("preact_resnet18", "PreAct ResNet-18",
              "The CIFAR ResNet-18 of the CS-KD paper (512-d features)."),
    ModelSpec("resnet18", "ResNet-18 (torchvision)", "ImageNet-style ResNet-18 at 224 px (512-d features)."),
    ModelSpec("timm/<name>", "timm model",
              f"Any timm classifier by name (timm/resnet10t), randomly initialised for the dataset's image "
              f"size; a name of letters, digits, '_', '.' and '-', at most {TIMM_NAME_LENGTH} characters. "
              f"Needs the timm package (centerlens[timm]).",
              pattern=rf"timm/[A-Za-z0-9_.\-]{{1,{TIMM_NAME_LENGTH}}}"),
)

DATASETS = (
    DatasetSpec("digits", "digits (bundled)", "scikit-learn's 8x8 digits, bundled: nothing to download.",
                default_model="small_cnn", uses_data_dir=False),
    DatasetSpec("cifar10", "CIFAR-10", "torchvision's CIFAR-10 files in the data folder.",
                default_model="preact_resnet18"),
    DatasetSpec("cifar100", "CIFAR-100", "torchvision's CIFAR-100 files in the data folder.",
                default_model="preact_resnet18"),
    DatasetSpec("imagefolder", "image folder", "DATA_DIR/train/<class>/* and DATA_DIR/test/<class>/*.",
                default_model="resnet18",
                # BAKE's authors' setting on TinyImageNet, Stanford Dogs and MIT67 (docs/methods.md)
                method_defaults={"bake": {"group_size": 2, "omega": 0.9}}),
)
