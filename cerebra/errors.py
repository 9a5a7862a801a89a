"""Domain errors shared by the library, the server and the CLI.

Each error knows its HTTP status and the field it blames, so routes and commands only
translate it (a JSON 4xx body, or a one-line CLI message with exit code 2).
"""

from __future__ import annotations

from typing import Any


class CerebraError(Exception):
    """Base class: a problem the caller can act on, not a bug."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def headers(self) -> dict[str, str] | None:
        """HTTP headers the error's response carries (Retry-After, WWW-Authenticate)."""
        return None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class InvalidInput(CerebraError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(CerebraError):
    """No credentials, or credentials that do not hold (unknown, expired, revoked, forged).
    HTTP 401 with a WWW-Authenticate challenge."""

    status_code = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str] | None:
        error = "invalid_token" if self.field == "authorization" else "invalid_request"
        return {"WWW-Authenticate": f'Bearer realm="cerebra", error="{error}"'}


class Forbidden(CerebraError):
    """The caller is known but may not do this (a missing scope names it). HTTP 403."""

    status_code = 403
    code = "forbidden"


class Conflict(CerebraError):
    status_code = 409
    code = "conflict"


class PromptTooLong(CerebraError):
    status_code = 413
    code = "prompt_too_long"


class NotFound(CerebraError):
    status_code = 404
    code = "not_found"


class UnknownModel(NotFound):
    code = "model_not_found"

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown model {name!r}; known models: {', '.join(known) or '(none)'}",
            field="model",
            known_models=known,
        )


class ModelVerificationError(CerebraError):
    """Weights whose hash or signature does not match what was pinned (the entry that
    pinned them is wrong, or the file is: 422, naming the field)."""

    status_code = 422
    code = "model_verification_failed"


class BackendError(CerebraError):
    """A model backend failed (upstream error, timeout, broken stream)."""

    status_code = 502
    code = "backend_error"

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Overloaded(BackendError):
    """A local model is busy and its queue is full (or the request's time ran out waiting):
    try again after `retry_after_s` seconds. HTTP 429 with a Retry-After header."""

    status_code = 429
    code = "overloaded"

    def __init__(self, message: str, *, retry_after_s: int, field: str | None = "model") -> None:
        super().__init__(message, retryable=False, retry_after=float(retry_after_s))
        self.retry_after_s = max(1, int(retry_after_s))
        self.field = field
        self.extra = {"retry_after_s": self.retry_after_s}

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)}
