"""Record your own PyTorch training loop with centerlens: a small MLP on scikit-learn's digits.

    python examples/own_loop.py --db runs.db        # then: centerlens serve --db runs.db
"""

import argparse

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from centerlens import Recorder
from centerlens.features import penultimate

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--db", default="runs.db", help="database file or URL to record into (default runs.db)")
parser.add_argument("--epochs", type=int, default=5, help="epochs to train (default 5)")
parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
args = parser.parse_args()

torch.manual_seed(0)
digits = load_digits()
x_train, x_test, y_train, y_test = train_test_split(
    digits.data / 16, digits.target, test_size=0.3, stratify=digits.target, random_state=0
)
x_train, x_test = (torch.tensor(x, dtype=torch.float32) for x in (x_train, x_test))
y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)

model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
head = penultimate(model, "4")  # the input of the last Linear: 32-d penultimate features

with Recorder(db=args.db, name="own-loop-digits", class_names=[str(k) for k in range(10)],
              config={"lr": args.lr, "model": "mlp-128-32"}, epochs=args.epochs,
              probe_images=1 - x_test.reshape(-1, 8, 8), probe_size=300, seed=0) as rec:
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train))
        total, correct = 0.0, 0
        for batch in order.split(64):
            logits = model(x_train[batch])
            loss = nn.functional.cross_entropy(logits, y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            correct += (logits.argmax(1) == y_train[batch]).sum().item()
        model.eval()
        with torch.no_grad():
            logits = model(x_test)
        rec.log_epoch(epoch, features=head.features, labels=y_test, logits=logits,
                      train_loss=total / len(x_train), train_top1=correct / len(x_train), lr=args.lr,
                      extra={"weight_norm": sum(p.norm() ** 2 for p in model.parameters()).sqrt().item()})
        print(f"epoch {epoch}/{args.epochs}: train loss {total / len(x_train):.3f}")
print(f"recorded run {rec.run_id} into {args.db}")
