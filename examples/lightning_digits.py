"""Record a PyTorch Lightning run with centerlens: a small CNN on scikit-learn's digits.

    python examples/lightning_digits.py --db runs.db        # then: centerlens serve --db runs.db
"""

import argparse

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from centerlens.lightning import CenterlensCallback

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--db", default="runs.db", help="database file or URL to record into (default runs.db)")
parser.add_argument("--epochs", type=int, default=3, help="epochs to train (default 3)")
parser.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
args = parser.parse_args()


class DigitsNet(pl.LightningModule):
    """A conv layer, a 32-d feature layer and the classifier head ``fc`` that the callback hooks."""

    def __init__(self, lr: float) -> None:
        super().__init__()
        self.save_hyperparameters()  # lr becomes the run's config
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 32), nn.ReLU()
        )
        self.fc = nn.Linear(32, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(images))

    def training_step(self, batch, _index):
        images, labels = batch
        loss = nn.functional.cross_entropy(self(images), labels)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _index):
        images, labels = batch
        logits = self(images)
        self.log("val_loss", nn.functional.cross_entropy(logits, labels))
        self.log("val_accuracy", (logits.argmax(1) == labels).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.images / 16, dtype=torch.float32).unsqueeze(1)  # N x 1 x 8 x 8, in [0, 1]
x_train, x_test, y_train, y_test = train_test_split(
    images, torch.tensor(digits.target), test_size=0.3, stratify=digits.target, random_state=0
)
train = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
test = DataLoader(TensorDataset(x_test, y_test), batch_size=256)  # not shuffled: the same order each epoch

callback = CenterlensCallback(db=args.db, layer="fc", name="lightning-digits", probe_size=300, seed=0)
trainer = pl.Trainer(max_epochs=args.epochs, callbacks=[callback], accelerator="cpu", logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
trainer.fit(DigitsNet(args.lr), train, test)
print(f"recorded run {callback.run_id} into {args.db}")
