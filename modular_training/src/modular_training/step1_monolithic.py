"""Step 1 - the monolithic script: data, model, loop, evaluation and plot in one top-to-bottom run.

This is the honest "before". It works, it is even seeded, and its result is reproducible on this
machine. But every `# PROBLEM:` comment marks something that bites as soon as the project grows.
Step 2 (`step2_modular.py`) is the same computation, split into parts; a test checks that both give
bit-identical weights for the same seed.

Run:  uv run mt-monolithic            (writes outputs/monolithic/)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write PNGs, never open a window
import matplotlib.pyplot as plt
import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from modular_training.plumbing import BadInput, OneLineParser, check_out, positive_int
from modular_training.receipt import data_sha256, weights_sha256, write_run_json


def main(argv: list[str] | None = None) -> int:
    started = time.time()
    # The one concession to testing: a seed, an epoch count and an output folder from the
    # command line. PROBLEM: every other choice below is a constant buried in the code.
    # (OneLineParser and check_out are this repository's habits: a bad flag or an unwritable
    # --out is one `error:` line, found before training rather than after it.)
    parser = OneLineParser(prog="mt-monolithic", description="Step 1: one long training script.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=positive_int, default=20)
    parser.add_argument("--out", type=Path, default=Path("outputs/monolithic"))
    args = parser.parse_args(argv)
    try:
        check_out(args.out)
    except BadInput as exc:
        parser.error(str(exc))

    # --- seeding: the global RNG drives weight init and dropout -------------------------------
    torch.manual_seed(args.seed)
    # The thread count is part of the computation: with 2 threads a matrix product may sum in
    # another order and the weights differ in the last bits. One thread is also fastest here.
    torch.set_num_threads(1)

    # --- data ----------------------------------------------------------------------------------
    # PROBLEM: loading, scaling and splitting live here, so no other script can reuse them.
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    y = y.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))  # PROBLEM: split seed hard-coded
    n_test = n_val = round(len(x) * 0.15)
    test_idx, val_idx, train_idx = (
        order[:n_test],
        order[n_test : n_test + n_val],
        order[n_test + n_val :],
    )
    x_train, y_train = torch.from_numpy(x[train_idx]), torch.from_numpy(y[train_idx])
    x_val, y_val = torch.from_numpy(x[val_idx]), torch.from_numpy(y[val_idx])
    x_test, y_test = torch.from_numpy(x[test_idx]), torch.from_numpy(y[test_idx])

    # --- model and optimiser ---------------------------------------------------------------------
    # PROBLEM: to try another width you edit this line, and nothing records that you did.
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    # The shuffle order comes from its own generator, seeded from the run seed.
    loader = DataLoader(
        TensorDataset(x_train, y_train),
        batch_size=32,
        shuffle=True,
        generator=torch.Generator().manual_seed(args.seed),
    )

    # --- training loop ---------------------------------------------------------------------------
    # PROBLEM: no checkpoints. If the job is killed in epoch 19, all 19 epochs are lost.
    history = []
    for epoch in range(args.epochs):
        model.train()
        total, seen = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            seen += len(xb)
        # PROBLEM: evaluation code is pasted inline (and again for the test set below).
        model.eval()
        with torch.no_grad():
            val_logits = model(x_val)
            val_loss = loss_fn(val_logits, y_val).item()
            val_acc = (val_logits.argmax(1) == y_val).float().mean().item()
        history.append((epoch, total / seen, val_loss, val_acc))
        print(
            f"epoch {epoch:2d}  train_loss {total / seen:.4f}  val_loss {val_loss:.4f}  val_acc {val_acc:.3f}"
        )

    # --- evaluation on the held-out test set, once, at the end ----------------------------------
    model.eval()
    with torch.no_grad():
        test_acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    print(f"test_acc {test_acc:.4f}")

    # --- outputs ---------------------------------------------------------------------------------
    # PROBLEM: the output folder, file names and plot style are all wired in here.
    args.out.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(args.out / "model.safetensors"))
    epochs = [h[0] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, [h[1] for h in history], label="train loss")
    ax.plot(epochs, [h[2] for h in history], label="val loss")
    ax.set_xlabel("epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "training_curve.png", dpi=100)
    plt.close(fig)
    write_run_json(
        args.out,
        seed=args.seed,
        config={
            "epochs": args.epochs,
            "batch_size": 32,
            "lr": 1e-3,
            "hidden": 128,
            "dropout": 0.1,
            "threads": 1,
        },
        metrics={"test_accuracy": test_acc, "val_accuracy": history[-1][3]},
        weights_sha256=weights_sha256(state),
        data_sha256=data_sha256(x_train, y_train, x_val, y_val, x_test, y_test),
        started=started,
        command=["mt-monolithic", *(sys.argv[1:] if argv is None else argv)],
    )
    print(f"weights_sha256 {weights_sha256(state)}")
    print(f"wrote {args.out}/run.json, model.safetensors, training_curve.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
