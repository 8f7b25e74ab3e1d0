"""Every per-epoch metric, declared once: name (the ``epochs`` column), label, unit and explanation.

The ``epochs`` table's metric columns, the recorder's check of what an epoch produced, the API's
epochs schema, the CSV export and the dashboard's curves all follow from this list. Adding a metric:
its function in ``trainer/metrics.py`` (registered with ``@computes``), one ``MetricSpec`` here and a
migration adding its column (see docs/contributing.md).

Metrics a user's own loop may not give (``centerlens.Recorder``: logits, training loss and accuracy,
learning rate and throughput are optional there) are not ``required``: their columns hold null for
such epochs (migration 0007). The built-in trainer records every one of them for every epoch.
"""

from __future__ import annotations

from store.catalog.base import MetricSpec

BUILT_IN = (
    MetricSpec("test_top1", "test top-1 accuracy", "fraction",
               "share of test images whose highest logit is their class", "accuracy", chart="Accuracy",
               percent=True, required=False),
    MetricSpec("test_top5", "test top-5 accuracy", "fraction",
               "share of test images whose class is among the five highest logits", "accuracy", percent=True,
               required=False),
    MetricSpec("train_accuracy", "train accuracy", "fraction",
               "share of training images classified right during the epoch (augmented, model changing)",
               "accuracy", chart="Accuracy", percent=True, required=False),
    MetricSpec("within_class_variance", "tr(Sw)", "feature units²",
               "within-class variance: mean squared distance of a test feature to its class mean (raw scale)",
               "variance", chart="Within-class variance tr(Sw)"),
    MetricSpec("between_class_variance", "tr(Sb)", "feature units²",
               "between-class variance: mean squared distance of the class means to the global mean",
               "variance"),
    MetricSpec("variance_ratio", "tr(Sw)/tr(Sb)", "ratio",
               "within- over between-class variance: scale-free, lower means tighter classes", "variance",
               chart="Variance ratio tr(Sw)/tr(Sb)"),
    MetricSpec("nc1", "NC1", "ratio",
               "tr(Sw Sb⁺)/C (Papyan et al. 2020): within-class spread relative to the class-mean geometry",
               "collapse", chart="NC1"),
    MetricSpec("cdnv", "CDNV", "ratio",
               "class-distance-normalised variance (Galanti et al. 2022): mean over class pairs of "
               "(var_k + var_l) / (2 ||mu_k - mu_l||²)", "collapse"),
    MetricSpec("nc2_equinorm", "NC2 equinorm", "ratio",
               "std/mean of the centered class-mean norms: 0 when every class mean is equally far out",
               "collapse"),
    MetricSpec("nc2_equiangular", "NC2 equiangularity", "cosine",
               "std of the pairwise cosines of centered class means: 0 when all angles are equal",
               "collapse"),
    MetricSpec("nc2_max_angle", "NC2 max-angle", "cosine",
               "mean |cos + 1/(C-1)| over class-mean pairs: 0 for a simplex (maximally separated)",
               "collapse"),
    MetricSpec("nc4_agreement", "NC4 agreement", "fraction",
               "share of test images whose nearest class mean is the network's prediction", "collapse",
               percent=True, required=False),
    MetricSpec("test_nll", "test NLL", "nats", "mean negative log-likelihood of the true class",
               "calibration", required=False),
    MetricSpec("test_ece", "ECE", "fraction",
               "expected calibration error, 15 equal-width bins: mean |confidence - accuracy|, lower is "
               "better",
               "calibration", chart="ECE (calibration error)", required=False),
    MetricSpec("train_loss", "train loss", "nats", "the method's whole training loss, epoch mean", "loss",
               required=False),
    MetricSpec("train_ce", "train CE", "nats", "cross-entropy part of the training loss", "loss",
               chart="Training loss", required=False),
    MetricSpec("train_distill", "train distillation", "nats",
               "distillation part of the training loss (self-KD methods)", "loss", chart="Training loss",
               required=False),
    MetricSpec("learning_rate", "learning rate", "", "SGD learning rate during the epoch", "speed",
               required=False),
    MetricSpec("epoch_seconds", "epoch seconds", "s", "wall time of the epoch's training pass", "speed"),
    MetricSpec("images_per_second", "images/s", "images/s", "training throughput of the epoch", "speed",
               required=False),
    MetricSpec("record_seconds", "record seconds", "s",
               "wall time of the evaluation pass and metrics after the epoch", "speed", required=False),
)
