"""Early stopping on the validation score, with the state a checkpoint keeps for an exact resume."""

from __future__ import annotations


class EarlyStopping:
    """Train while fewer than ``max_epochs`` epochs are done and the validation score improved
    within the last ``patience`` epochs; remembers the best epoch and the per-epoch log rows.

    :attr:`state` is a plain dict (``epoch``, ``best_score``, ``best_epoch``, ``bad_epochs``,
    ``log``), saved in ``checkpoints/last.pt`` and given back to resume.
    """

    def __init__(self, max_epochs: int, patience: int, state: dict | None = None):
        self.max_epochs, self.patience = max_epochs, patience
        self.state = (
            state
            if state is not None
            else {"epoch": 0, "best_score": float("-inf"), "best_epoch": -1, "bad_epochs": 0, "log": []}
        )

    @property
    def epoch(self) -> int:
        """Epochs done."""
        return self.state["epoch"]

    @property
    def running(self) -> bool:
        return self.state["epoch"] < self.max_epochs and self.state["bad_epochs"] < self.patience

    def update(self, score: float, row: dict) -> bool:
        """Record one finished epoch's validation ``score`` and log ``row``; True if it is the best so far
        (the first epoch always is, even with a score of -inf)."""
        s = self.state
        improved = score > s["best_score"] or s["best_epoch"] < 0
        s.update(epoch=s["epoch"] + 1, bad_epochs=0 if improved else s["bad_epochs"] + 1)
        if improved:
            s.update(best_score=score, best_epoch=s["epoch"])
        s["log"].append(row)
        return improved
