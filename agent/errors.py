"""The product's exceptions, one root and a few branches.

    TriageError
    ├── InputError            bad ticket, bad file, bad argument: the caller must fix it
    │   └── PolicyError       a routing policy file that does not validate
    ├── PromptError           a prompt file is missing, malformed or rendered with wrong variables
    ├── NotFoundError         an id that names nothing
    ├── AuthError             missing or wrong credentials (401) ...
    │   └── ForbiddenError    ... or the wrong role (403)
    ├── ConflictError         a state change that is not allowed now
    ├── CapacityError         a queue or store is full: retry later
    └── UpstreamError         an LLM, helpdesk or broker failed; callers degrade on purpose
        └── LLMError          the LLM call failed, timed out or answered out of schema

The API maps each branch to one HTTP status; the CLI prints one line and exits non-zero.
"""

from __future__ import annotations

from pydantic import ValidationError


class TriageError(Exception):
    """Root of every error the product raises on purpose."""


class InputError(TriageError):
    """The input is malformed or incomplete."""


class PolicyError(InputError):
    """A routing policy does not validate; the message names file, path and expectation."""


class PromptError(TriageError):
    """A prompt template is missing, malformed, or rendered with the wrong variables."""


class NotFoundError(TriageError):
    """The requested object does not exist."""


class AuthError(TriageError):
    """Missing or invalid credentials."""


class ForbiddenError(AuthError):
    """Valid credentials without the required role."""


class ConflictError(TriageError):
    """The request conflicts with the current state."""


class CapacityError(TriageError):
    """A bounded resource is full; the caller should retry later."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamError(TriageError):
    """A dependency outside the process failed."""


class LLMError(UpstreamError):
    """The LLM call failed, timed out, or returned output that does not fit the schema."""


def first_problem(exc: ValidationError, whole: str) -> str:
    """A validation error's first problem as 'where: what'; ``whole`` names the top level."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or whole
    return f"{where}: {first['msg']}"
