"""The training methods: each one's name, label, description with its citation and its own settings.

The torch code of each lives in ``trainer/methods/<name>.py`` and is registered under the same name.
Settings shared by several methods (temperature, distillation weight) are declared once and listed by
each method that uses them.
"""

from __future__ import annotations

from store.catalog.base import MethodSpec, Param

TEMPERATURE = Param("temperature", "float", 4.0, "distillation temperature T", label="temperature T",
                    gt=0, le=100)
DISTILL_WEIGHT = Param("distill_weight", "float", 1.0, "distillation weight lambda",
                       label="distill weight λ", ge=0, le=100)


def _batch_divisible(config) -> str | None:  # noqa: ANN001
    """Both BAKE samplers fill a batch with whole groups (an anchor and its partners, or a class's cut)."""
    if config.batch_size % config.group_size:
        return f"batch-size ({config.batch_size}) must be a multiple of group-size ({config.group_size})"
    return None


BUILT_IN = (
    MethodSpec("ce", "cross-entropy", "Cross-entropy on hard labels: the baseline."),
    MethodSpec(
        "ls", "label smoothing",
        "Cross-entropy toward (1 - eps) onehot + eps / C (Szegedy et al., CVPR 2016).",
        params=(
            Param("smoothing", "float", 0.1, "label-smoothing epsilon", label="smoothing ε", ge=0, lt=1),
        ),
    ),
    MethodSpec(
        "cs_kd", "CS-KD (class-wise self-KD)",
        "Distil each anchor's tempered prediction toward a same-class partner's (Yun et al., CVPR 2020).",
        params=(
            TEMPERATURE,
            DISTILL_WEIGHT,
            Param("partner_rule", "str", "class",
                  "CS-KD: where an anchor's partner is drawn from: class (the whole class, the anchor "
                  "itself included, as the authors' sampler) or others (never the anchor itself unless "
                  "its class has one sample)", label="partner rule", choices=("class", "others")),
        ),
    ),
    MethodSpec(
        "ps_kd", "PS-KD (progressive self-KD)",
        "Soft targets mixing the label with the sample's previous-epoch prediction, weight growing to "
        "alpha (Kim et al., ICCV 2021).",
        params=(Param("alpha", "float", 0.8, "PS-KD's final target weight alpha", label="final weight α",
                      ge=0, le=1),),
    ),
    MethodSpec(
        "bake", "BAKE (batch knowledge ensembling)",
        "Distil toward the affinity-propagated ensemble of same-batch predictions (Ge et al., 2021).",
        params=(
            TEMPERATURE,
            DISTILL_WEIGHT,
            Param("omega", "float", 0.5, "BAKE's propagation weight omega (imagefolder: 0.9, the authors' "
                  "TinyImageNet, Dogs and MIT67 setting)", label="propagation ω", ge=0, lt=1),
            Param("group_size", "int", 4, "BAKE: same-class images per group, M + 1 for M partners per "
                  "anchor (imagefolder: 2, M = 1 as the authors' TinyImageNet, Dogs and MIT67)",
                  label="group size (M + 1)", ge=2, le=1024),
            Param("bake_sampler", "str", "anchors",
                  "BAKE's batches: anchors (the authors': every sample is an anchor once per epoch, with "
                  "M same-class partners, so an epoch has (M + 1) x n images) or groups (each class cut "
                  "into groups of M + 1, every sample once per epoch)", label="sampler",
                  choices=("anchors", "groups")),
        ),
        checks=(_batch_divisible,),
        needs_linear_head=False,
    ),
    MethodSpec(
        "csd", "CSD (center self-distillation)",
        "Distil each sample toward its class center's prediction fused with its own (Zhong et al., "
        "Applied Sciences 14(16):7022, 2024).",
        params=(
            TEMPERATURE,
            DISTILL_WEIGHT,
            Param("beta", "float", 0.5, "CSD: weight of the class-center prediction in the fused target",
                  label="center weight β", ge=0, le=1),
            Param("center_momentum", "float", 0.9, "CSD: momentum m of the EMA class centers",
                  label="center momentum m", ge=0, lt=1),
            Param("center_rule", "str", "ema", "CSD: how centers are learned", label="center rule",
                  choices=("ema", "learned")),
        ),
        needs_linear_head=True,
    ),
)
