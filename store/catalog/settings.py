"""The settings every run has, whatever its method (the method-specific ones live in ``methods``)."""

from __future__ import annotations

from store.catalog.base import Param

MAX_ID = 2**31 - 1  # 32-bit integer columns (PostgreSQL ``integer``)

GENERAL = (
    Param("dataset", "str", "digits", "dataset", choices="dataset"),
    Param("model", "str", "auto", "model (auto picks the dataset's default)", choices="model"),
    Param("method", "str", "ce", "training method", choices="method"),
    Param("epochs", "int", 10, "number of training epochs", ge=1, le=10_000),
    Param("seed", "int", 0, "random seed for weights, batches and augmentation", ge=0, le=MAX_ID),
    Param("name", "str", "", "run name (default: METHOD-DATASET-sSEED)", max_length=200),
    Param("db", "str", "centerlens.db", "database file path or SQLAlchemy URL", max_length=1000, local=True),
    Param("data_dir", "str", "data", "folder holding the dataset files (cifar, imagefolder)",
          max_length=1000, path=True),
    Param("download", "bool", False, "download CIFAR files into --data-dir if missing"),
    Param("batch_size", "int", 128, "training batch size", ge=2, le=65_536),
    Param("lr", "float", 0.1, "initial learning rate (SGD)", gt=0, le=10),
    Param("momentum", "float", 0.9, "SGD momentum", ge=0, lt=1),
    Param("weight_decay", "float", 5e-4, "SGD weight decay", ge=0, le=1),
    Param("lr_milestones", "floats", (0.5, 0.75),
          "learning-rate x0.1 steps, as fractions of the epochs", gt=0, le=1, min_items=1, max_items=10),
    Param("probe_per_class", "int", 0, "probe samples per class (0: as many as fit in 5,000 points)",
          ge=0, le=100_000),
    Param("probe_seed", "int", 0, "seed of the probe selection (same seed + dataset = same probe)",
          ge=0, le=MAX_ID),
    Param("device", "str", "auto", "device: auto, cpu, cuda, cuda:N", pattern=r"auto|cpu|cuda(:\d{1,2})?"),
    Param("loader", "str", "auto", "data loader: auto (tensor-resident where the data fits), resident, "
          "torchvision", choices=("auto", "resident", "torchvision")),
    Param("workers", "int", 2, "data-loading worker processes (torchvision loader)", ge=0, le=32),
    Param("threads", "int", 0, "CPU threads for torch (0: torch's default; 1 is often fastest on small "
          "shared CPUs)", ge=0, le=256),
    Param("compile", "bool", False, "compile the model with torch.compile (CUDA; slower first epoch)"),
    Param("checkpoint_every", "int", 1, "save a resumable checkpoint every N epochs (0: never)",
          ge=0, le=10_000),
    Param("checkpoint_dir", "str", "", "checkpoint folder (default: DB_FILE.checkpoints/, or ./checkpoints "
          "for URLs)", max_length=1000, path=True),
)
