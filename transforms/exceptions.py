"""Errors of the stored dataset. Imports nothing else from the project, so every layer
(the dataset readers, the crawl state, the command line) can raise or catch them."""

from __future__ import annotations

from pathlib import Path


class CorruptFile(Exception):
    """A stored file that cannot be read. `str()` is one sentence naming the file, what is
    wrong and what to do."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{path}: {problem}; {fix}")

    @classmethod
    def parquet(cls, path: Path | str, exc: BaseException) -> CorruptFile:
        """The error for a dataset file that is not readable Parquet (`exc`: the reader's)."""
        reason = " ".join(str(exc).split())
        if str(path) in reason:  # pyarrow's message names the file: keep what follows
            reason = reason.rsplit(str(path), 1)[1].lstrip("': ")
        reason = reason.split(". ")[0].rstrip(".") or type(exc).__name__
        return cls(
            path,
            f"is not a readable Parquet file ({reason[:160]})",
            "move it aside (its rows are then missing) or restore it from a backup, "
            "then run the command again.",
        )


class StateUnavailable(Exception):
    """The crawl state's database cannot be used (unreachable, or a wrong address). `str()` is
    one sentence naming it (without its password), what is wrong and what to do."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        super().__init__(f"crawl state {where}: {problem}; {fix}")


# the run's own storage failing, not a page's or a feed's fault: a step that turns its errors
# into quarantine rows lets these through (the source's run fails, naming the file and fix)
STORAGE_FAULTS: tuple[type[Exception], ...] = (CorruptFile, StateUnavailable)


class MirrorBehind(Exception):
    """Another writer published a commit this mirror had not seen when it decided what to
    write: nothing was published; sync and do the commit again."""

    def __str__(self) -> str:
        return (
            f"{self.args[0]}; other machines kept publishing first, so nothing of this "
            "command was published: run it again"
        )
