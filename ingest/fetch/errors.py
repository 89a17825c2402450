"""The fetch package's error: imports nothing else from the project, so every part of the
package (the client, robots.txt, the guards) raises the same one without importing the
client."""

from __future__ import annotations

RETRYABLE = ("timeout", "connection_error")


class FetchError(Exception):
    """A request that produced no usable response; `reason` is a quarantine code."""

    def __init__(
        self, reason: str, detail: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        self.waited = 0.0  # seconds the request waited for the server before it failed

    @property
    def retryable(self) -> bool:
        return (
            self.reason in RETRYABLE
            or self.status == 429
            or (self.status is not None and self.status >= 500)
        )
