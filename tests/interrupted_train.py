"""A training run with `keras.callbacks.BackupAndRestore` that can be killed
mid-epoch: the worker of tests/test_fault_tolerance.py.

    python -m tests.interrupted_train --workdir DIR --name RUN [--kill-at E B]

Starts from DIR/initial.npz, backs up to DIR/RUN-backup at every epoch end,
and writes the final weights and the losses of the epochs it ran to
DIR/RUN.npz. With `--kill-at E B` the process kills itself (SIGKILL, no
clean-up) when batch B of epoch E begins; running the same command without
it resumes from the backup.
"""

import argparse
import os
import signal

import numpy as np

EPOCHS, BATCH = 4, 8


def build_model():
    """The five layers stacked, with seeded input and recurrent dropout: the
    dropout masks' random state is part of what must be restored."""
    import keras

    import keras_gates as kg
    from tests.distributed_train import FEATURES
    from tests.distributed_train import STEPS

    sequences = {"return_sequences": True}
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            kg.PeepholeLSTM(6, dropout=0.1, recurrent_dropout=0.1, seed=1, **sequences),
            kg.SRU(6, dropout=0.1, seed=2, **sequences),
            kg.MinGRU(6, dropout=0.1, seed=3, **sequences),
            kg.CoupledLSTM(6, recurrent_dropout=0.1, seed=4, **sequences),
            kg.MinimalGRU(6, dropout=0.1, recurrent_dropout=0.1, seed=5),
            keras.layers.Dense(1),
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--kill-at", type=int, nargs=2, metavar=("EPOCH", "BATCH"))
    args = parser.parse_args()

    import keras

    from tests.distributed_train import make_data

    class KillAt(keras.callbacks.Callback):
        def __init__(self, epoch, batch):
            super().__init__()
            self.kill_epoch, self.kill_batch, self.epoch = epoch, batch, None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if (self.epoch, batch) == (self.kill_epoch, self.kill_batch):
                os.kill(os.getpid(), signal.SIGKILL)

    model = build_model()
    with np.load(os.path.join(args.workdir, "initial.npz")) as f:
        model.set_weights([f[f"w{i}"] for i in range(len(f.files))])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    callbacks = [
        keras.callbacks.BackupAndRestore(
            os.path.join(args.workdir, f"{args.name}-backup")
        )
    ]
    if args.kill_at:
        callbacks.append(KillAt(*args.kill_at))
    x, y = make_data()
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=False,
        callbacks=callbacks,
        verbose=0,
    )
    np.savez(
        os.path.join(args.workdir, f"{args.name}.npz"),
        losses=np.array(history.history["loss"]),
        **{f"w{i}": w for i, w in enumerate(model.get_weights())},
    )


if __name__ == "__main__":
    main()
