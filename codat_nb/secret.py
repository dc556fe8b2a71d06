"""A credential that never shows itself: not in a repr, an error, a log line or a traceback's
locals (``%xmode Verbose``, ``pytest --showlocals``). Revealed only where it is sent."""

from __future__ import annotations

from typing import Any


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    @classmethod
    def wrap(cls, value: Any) -> Any:
        """A str becomes a Secret; None, a Secret or a wrong type (for its error) stay as is."""
        return cls(value) if isinstance(value, str) else value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled: it would be written out in clear")
