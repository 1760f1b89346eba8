"""Domain errors; the API maps each kind to one HTTP status."""


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidInput(DomainError):
    """The request or message is malformed or out of range (HTTP 422)."""


class NotFound(DomainError):
    """The named incident, unit, subscriber or device does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The request is well-formed but the current state forbids it (HTTP 409)."""


class IllegalTransition(Conflict):
    """An incident or unit was asked to move to a state its lifecycle does not allow."""


class Forbidden(DomainError):
    """The caller is known but may not do this (HTTP 403)."""
