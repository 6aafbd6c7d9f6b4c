"""The error the sandbox's answers raise where real AWS answers with an error code."""

from __future__ import annotations


class AwsError(Exception):
    """Becomes a ClientError with this code and message (HTTP 400) on the calling client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
