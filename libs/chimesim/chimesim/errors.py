"""Service errors, named by the exception shapes of the botocore models."""

from __future__ import annotations


class ServiceError(Exception):
    """An error the API returns: `shape` is the model's exception shape (its HTTP status
    and `x-amzn-ErrorType` come from the model when the response is written)."""

    def __init__(self, shape: str, message: str) -> None:
        super().__init__(message)
        self.shape = shape
        self.message = message


def bad_request(message: str) -> ServiceError:
    return ServiceError("BadRequestException", message)


def not_found(message: str) -> ServiceError:
    return ServiceError("NotFoundException", message)
