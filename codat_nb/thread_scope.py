"""A value a thread sets for the duration of a block and code deeper in the same thread reads
(a listing's stop signal, a call's deadline), without passing it through every signature."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class ThreadScoped(Generic[T]):
    """One thread-local value, set by ``scope`` and restored when the block ends (nested
    scopes see their own value)."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextlib.contextmanager
    def scope(self, value: T) -> Iterator[None]:
        previous = self.get()
        self._local.value = value
        try:
            yield
        finally:
            self._local.value = previous

    def get(self) -> T | None:
        value: T | None = getattr(self._local, "value", None)
        return value
