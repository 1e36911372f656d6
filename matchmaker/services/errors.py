"""The domain error every service raises; the caller turns it into a form error, a flash or JSON."""


class ServiceError(Exception):
    """A rule of the domain was broken; `message` is shown to the user as is (Chinese)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(ServiceError):
    """The request clashes with what is stored now (a cap reached, the same thing asked already), often
    because another request came first; the API answers 409 rather than 422."""
