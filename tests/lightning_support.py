"""A small real Lightning setup for tests/test_lightning.py (imported only where lightning is installed)."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from centerlens.lightning import CenterlensCallback
from store import open_sessions
from store.queue import request_cancel

C, D, N_TRAIN, N_VAL = 3, 6, 150, 60


class Net(pl.LightningModule):
    """A small MLP on 4x4 one-channel "images"; ``fail_at`` raises in that epoch's first step."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(16, D), nn.ReLU())
        self.fc = nn.Linear(D, C)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(images))

    def loss(self, batch) -> torch.Tensor:
        return nn.functional.cross_entropy(self(batch[0]), batch[1])

    def training_step(self, batch, _index):
        if self.current_epoch == self.hparams.fail_at:
            raise RuntimeError("the loss exploded")
        return self.loss(batch)

    def validation_step(self, batch, _index):
        self.log("val_loss", self.loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def loaders(seed: int = 0) -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(N_TRAIN + N_VAL) % C
    images = torch.randn(N_TRAIN + N_VAL, 1, 4, 4, generator=generator) + labels.view(-1, 1, 1, 1) * 0.8
    train = TensorDataset(images[:N_TRAIN], labels[:N_TRAIN])
    val = TensorDataset(images[N_TRAIN:], labels[N_TRAIN:])
    return DataLoader(train, batch_size=32, shuffle=True), DataLoader(val, batch_size=25)


def fit(callback: CenterlensCallback, model: Net, epochs: int = 2, callbacks: tuple = ()) -> pl.Trainer:
    trainer = pl.Trainer(max_epochs=epochs, callbacks=[callback, *callbacks], accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, *loaders())
    return trainer


class CancelAfterFirstEpoch(pl.Callback):
    """Asks for the run to stop as the dashboard's Cancel button does, once epoch 1 is recorded."""

    def __init__(self, db: str, recording: CenterlensCallback) -> None:
        self.db, self.recording = db, recording

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == 1:
            with open_sessions(self.db).begin() as session:
                request_cancel(session, self.recording.run_id)
