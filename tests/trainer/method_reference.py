"""A fixed tiny batch and plain-torch reference losses for every method (float64, loops allowed).

The references restate each method's formula from its paper, independently of ``trainer.methods``;
``python tests/trainer/method_reference.py`` writes their values to ``method_expected.json``,
which ``test_methods.py`` holds the real methods to (tolerance 1e-5).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

EXPECTED_PATH = Path(__file__).with_name("method_expected.json")
NUM_CLASSES, FEATURE_DIM, INPUT_DIM = 3, 4, 6
POOL_LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
CLASSIFIER_GROWTH = 1.5  # between two steps of a case the classifier weight is scaled by this


class TinyModel(nn.Module):
    """features = tanh(V x + a), logits = W features + b, with fixed (non-random) weights."""

    feature_dim = FEATURE_DIM

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.body = nn.Linear(INPUT_DIM, FEATURE_DIM).to(dtype)
        self.classifier = nn.Linear(FEATURE_DIM, NUM_CLASSES).to(dtype)
        with torch.no_grad():
            self.body.weight.copy_(torch.sin(torch.arange(24.0).view(4, 6) * 0.9) * 0.8)
            self.body.bias.copy_(torch.linspace(-0.3, 0.3, 4))
            self.classifier.weight.copy_(torch.cos(torch.arange(12.0).view(3, 4) * 1.7) * 2.5)
            self.classifier.bias.copy_(torch.tensor([0.2, -0.1, 0.05]))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.tanh(self.body(images.flatten(1)))
        return features, self.classifier(features)


def pool_images(dtype: torch.dtype) -> torch.Tensor:
    """Twelve fixed 1 x 2 x 3 'images', four per class."""
    rows = torch.arange(12.0)[:, None]
    cols = torch.arange(6.0)[None, :]
    return (torch.sin(0.7 * rows + 1.3 * cols) + 0.3 * torch.cos(rows * cols)).view(12, 1, 2, 3).to(dtype)


def grow_classifier(model: nn.Module) -> None:
    """The model change applied between two steps of a case (stands in for an optimizer step)."""
    with torch.no_grad():
        model.classifier.weight.mul_(CLASSIFIER_GROWTH)


@dataclass
class Case:
    """A method, its settings and the steps (epoch, pool indices) run in order; the last is scored."""

    method: str
    steps: list[tuple[int, list[int]]]
    settings: dict = field(default_factory=dict)


MIXED = [0, 5, 10, 1, 6, 11, 2, 7]
CSD_STEPS = [(0, [0, 1, 8, 9]), (0, [2, 3, 4, 5, 6])]  # class 1 new at step 2, class 2 absent
CASES = {
    "ce": Case("ce", [(0, MIXED)]),
    "ls": Case("ls", [(0, MIXED)], {"smoothing": 0.2}),
    "cs_kd": Case("cs_kd", [(0, [0, 4, 8, 1, 2, 6, 10, 3])], {"temperature": 3.0, "distill_weight": 0.7}),
    "ps_kd": Case("ps_kd", [(0, [0, 4, 8, 1, 5, 9]), (1, [9, 5, 1, 8, 4, 0])], {"alpha": 0.8, "epochs": 4}),
    "bake": Case("bake", [(0, [0, 1, 2, 3, 8, 9, 10, 11])], {"omega": 0.5, "batch_size": 8,
                                                              "temperature": 2.0}),
    "csd": Case("csd", CSD_STEPS, {"beta": 0.3, "center_momentum": 0.8, "temperature": 3.0,
                                   "distill_weight": 0.7}),
    "csd_learned": Case("csd", CSD_STEPS, {"beta": 0.3, "temperature": 3.0, "center_rule": "learned"}),
}


@dataclass
class Step:
    """What a reference sees of one step: features, logits, labels, pool indices and settings."""

    f: torch.Tensor
    z: torch.Tensor
    labels: list[int]
    indices: list[int]
    epoch: int
    settings: dict
    classifier: nn.Linear
    memory: dict  # kept across the steps of a case (PS-KD's predictions, CSD's centers)


def softmax(z: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    scaled = z / temperature
    exp = torch.exp(scaled - scaled.max(1, keepdim=True).values)
    return exp / exp.sum(1, keepdim=True)


def cross_entropy(z: torch.Tensor, labels: list[int]) -> torch.Tensor:
    return torch.stack([-torch.log(softmax(z)[i, y]) for i, y in enumerate(labels)]).mean()


def soft_cross_entropy(z: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * torch.log(softmax(z))).sum(1).mean()


def distill_kl(z: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 mean_i sum_k t_ik log(t_ik / p^T_ik)."""
    p = softmax(z, temperature)
    return temperature**2 * (targets * (torch.log(targets) - torch.log(p))).sum(1).mean()


def onehot(labels: list[int]) -> torch.Tensor:
    return torch.eye(NUM_CLASSES, dtype=torch.float64)[labels]


def ce_reference(step: Step) -> dict:
    return {"ce": cross_entropy(step.z, step.labels)}


def ls_reference(step: Step) -> dict:
    """PyTorch's own label smoothing, split into (1 - eps) CE and the rest."""
    eps = step.settings["smoothing"]
    loss = F.cross_entropy(step.z, torch.tensor(step.labels), label_smoothing=eps)
    ce = (1 - eps) * cross_entropy(step.z, step.labels)
    return {"ce": ce, "distill": loss - ce}


def cs_kd_reference(step: Step) -> dict:
    """CE on the anchors (first half) + lambda T^2 KL(p^T(partner) || p^T(anchor))."""
    T, half = step.settings["temperature"], len(step.labels) // 2
    assert step.labels[:half] == step.labels[half:]
    anchors, partners = step.z[:half], step.z[half:]
    distill = step.settings["distill_weight"] * distill_kl(anchors, softmax(partners, T), T)
    return {"ce": cross_entropy(anchors, step.labels[:half]), "distill": distill}


def ps_kd_reference(step: Step) -> dict:
    """Soft CE on (1 - a) onehot + a p_prev; a = alpha (t + 1) / T_total, and targets = labels at epoch 0."""
    past = step.memory.setdefault("past", {})
    a = 0.0 if step.epoch == 0 else step.settings["alpha"] * (step.epoch + 1) / step.settings["epochs"]
    prev = torch.stack([past.get(i, torch.zeros(NUM_CLASSES, dtype=torch.float64)) for i in step.indices])
    loss = soft_cross_entropy(step.z, (1 - a) * onehot(step.labels) + a * prev)
    ce = (1 - a) * cross_entropy(step.z, step.labels)
    past.update({i: softmax(step.z)[row] for row, i in enumerate(step.indices)})
    return {"ce": ce, "distill": loss - ce}


def bake_reference(step: Step) -> dict:
    """CE + lambda T^2 KL((1 - w) (I - w A)^-1 p^T || p^T), A_ij = exp(u_i.u_j) / sum_{l!=i} exp(u_i.u_l)."""
    w, n, T = step.settings["omega"], len(step.f), step.settings["temperature"]
    unit = step.f / step.f.norm(dim=1, keepdim=True)
    affinity = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        weights = torch.exp(torch.stack([unit[i] @ unit[j] for j in others]))
        affinity[i, others] = weights / weights.sum()
    propagate = torch.inverse(torch.eye(n, dtype=torch.float64) - w * affinity)
    targets = (1 - w) * propagate @ softmax(step.z, T)
    distill = step.settings["distill_weight"] * distill_kl(step.z, targets, T)
    return {"ce": cross_entropy(step.z, step.labels), "distill": distill}


def csd_reference(step: Step) -> dict:
    """Update the centers with the batch, then CE + lambda T^2 KL(beta q_y + (1 - beta) p^T || p^T)."""
    settings, centers = step.settings, step.memory.setdefault("centers", {})
    T, beta = settings["temperature"], settings["beta"]
    learned = settings.get("center_rule") == "learned"
    m = settings.get("center_momentum", 0.9)
    for k in sorted(set(step.labels)):
        batch_mean = torch.stack([step.f[i] for i, y in enumerate(step.labels) if y == k]).mean(0)
        if k not in centers:
            centers[k] = batch_mean
        elif not learned:
            centers[k] = m * centers[k] + (1 - m) * batch_mean
    targets = []
    for i, y in enumerate(step.labels):
        q = softmax((step.classifier.weight @ centers[y] + step.classifier.bias)[None], T)[0]
        targets.append(beta * q + (1 - beta) * softmax(step.z[i : i + 1], T)[0])
    parts = {"ce": cross_entropy(step.z, step.labels),
             "distill": settings["distill_weight"] * distill_kl(step.z, torch.stack(targets), T)}
    if learned:
        pulls = [0.5 * (centers[y] - step.f[i]).pow(2).sum() for i, y in enumerate(step.labels)]
        parts["center"] = torch.stack(pulls).mean()
    return parts


REFERENCES = {"ce": ce_reference, "ls": ls_reference, "cs_kd": cs_kd_reference, "ps_kd": ps_kd_reference,
              "bake": bake_reference, "csd": csd_reference}


@torch.no_grad()
def reference_parts(name: str) -> tuple[dict[str, float], dict]:
    """The last step's loss parts computed from the formulas (float64), and the case's memory."""
    case = CASES[name]
    settings = {"temperature": 4.0, "distill_weight": 1.0, **case.settings}
    model, images, memory = TinyModel(torch.float64), pool_images(torch.float64), {}
    for n, (epoch, indices) in enumerate(case.steps):
        if n:
            grow_classifier(model)
        f, z = model(images[indices])
        labels = [POOL_LABELS[i] for i in indices]
        step = Step(f, z, labels, indices, epoch, settings, model.classifier, memory)
        parts = REFERENCES[case.method](step)
    return {key: float(value) for key, value in parts.items()}, memory


def expected_values() -> dict[str, dict[str, float]]:
    """Reference parts and their sum (the loss) for every case."""
    values = {}
    for name in CASES:
        parts, _ = reference_parts(name)
        values[name] = {"loss": math.fsum(parts.values()), **parts}
    return values


if __name__ == "__main__":
    EXPECTED_PATH.write_text(json.dumps(expected_values(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED_PATH}")
