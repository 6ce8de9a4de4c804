"""Every error a user can meet, in one place: each carries a one-line message (Japanese, naming
what to do next), and every face shows that line instead of a traceback."""
from __future__ import annotations


class IndexError_(RuntimeError):
    """The index is missing, corrupt, stale beyond use, or built with another model."""


class ModelError(RuntimeError):
    """The answer model file is missing, unreadable or fitted for other features."""


class ConversionError(RuntimeError):
    """The bundled model could not be read or converted; the message names the fixing command."""


class UploadError(ValueError):
    """A one-line reason the document was not added."""


class LLMError(Exception):
    """Anything that stops an LLM answer; ``str(exc)`` is the one-line notice (Japanese)."""


class CliError(Exception):
    """A command-line mistake (a missing index, a bad option value) said in one line."""


class ApiError(Exception):
    """An HTTP API request that cannot be served: its status, message and OpenAI error type."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind
