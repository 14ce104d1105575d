"""Callbacks of a training run: its time over every session, the sessions themselves and its random
streams travel in the checkpoint; one line per epoch with elapsed time and an estimate of the rest."""
from __future__ import annotations

import random
import time

import lightning as L
import numpy as np
import torch


class Stopwatch(L.Callback):
    """Seconds of training over every session of a run: the count travels in the checkpoint, so a
    resumed run adds to what its checkpoint had (time lost after the last checkpoint is not counted)."""

    def __init__(self):
        self.before, self.start = 0.0, time.time()

    @property
    def seconds(self) -> float:
        return self.before + time.time() - self.start

    def state_dict(self) -> dict:
        return {"seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.before, self.start = float(state.get("seconds", 0.0)), time.time()


class Sessions(L.Callback):
    """The processes a run trained in, each with the epoch it started from and what it ran on (``about``:
    versions, processor, command line): the list travels in the checkpoint, so a resumed run's result
    describes every session, not only the last. A run resumed from a checkpoint older than this record
    lists its sessions from that resume on: its first recorded session then starts past epoch 0."""

    def __init__(self, about: dict):
        self.about, self.sessions = about, []

    def on_train_start(self, trainer, pl_module) -> None:
        self.sessions.append({"from_epoch": trainer.current_epoch, **self.about})

    def state_dict(self) -> dict:
        return {"sessions": self.sessions}

    def load_state_dict(self, state: dict) -> None:
        self.sessions = list(state.get("sessions", []))


class RandomState(L.Callback):
    """The random streams (torch's, CUDA's, numpy's and Python's) travel in the checkpoint and are put
    back when training resumes, so a resumed run draws the batch order, augmentations and dropout
    masks an uninterrupted one would: on a CPU without loader workers (they are seeded anew on
    resuming) the two are bit-identical. A checkpoint is written at an epoch's end, after its
    validation; the streams go back as the checkpoint loads, before the next epoch's data loader
    draws its seeds (the sanity check in between draws from a copy: Lightning isolates it)."""

    def __init__(self, say=print):
        self.restored, self.say = False, say

    def state_dict(self) -> dict:
        _, keys, *rest = np.random.get_state()  # ('MT19937', keys, position, gauss flag, cached gauss)
        state = {"torch": torch.get_rng_state(), "python": random.getstate(),
                 "numpy_keys": torch.from_numpy(keys.astype(np.int64)), "numpy": tuple(rest)}
        if torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        torch.set_rng_state(state["torch"])
        random.setstate(state["python"])
        np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), *state["numpy"]))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        self.restored = True

    def on_train_start(self, trainer, module) -> None:
        if trainer.ckpt_path is not None and not self.restored and trainer.is_global_zero:
            self.say(f"{trainer.ckpt_path}: carries no random state (an older checkpoint); the resumed run draws "
                     f"other batches than an uninterrupted one would")


class EpochLine(L.Callback):
    """One line per finished epoch: training loss, validation loss and accuracy, the time since this
    session started and an estimate of what is left (at this session's pace)."""

    def __init__(self, name: str):
        self.name, self.start, self.first = name, time.time(), None

    def on_train_epoch_start(self, trainer, module):
        if self.first is None:
            self.first, self.start = trainer.current_epoch, time.time()

    def on_train_epoch_end(self, trainer, module):  # after this epoch's validation
        if not trainer.is_global_zero or "val_acc" not in trainer.callback_metrics:
            return
        m = trainer.callback_metrics
        done = trainer.current_epoch + 1
        elapsed = time.time() - self.start
        left = elapsed / max(done - (self.first or 0), 1) * max(trainer.max_epochs - done, 0)
        print(f"  {self.name}: epoch {done}/{trainer.max_epochs}  train loss {float(m['train_loss']):.3f}  val loss "
              f"{float(m['val_loss']):.3f}  val acc {100 * float(m['val_acc']):.1f}%  {_clock(elapsed)} elapsed, "
              f"about {_clock(left)} left", flush=True)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
