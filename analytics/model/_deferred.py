"""A frozen dataclass field whose value may be read from disk on first use (a version's task texts)."""

from __future__ import annotations

import threading
from typing import Any, Callable


class Deferred:
    """A value read when first asked for, once (thread-safe: two pages asking at once read it once)."""

    def __init__(self, load: Callable[[], Any], what: str) -> None:
        self._load, self.what = load, what
        self._lock = threading.Lock()
        self._value: Any = None
        self.loaded = False

    def __call__(self) -> Any:
        with self._lock:
            if not self.loaded:
                self._value = self._load()
                self.loaded = True
                self._load = None  # whatever the loader held (paths, ids) is no longer needed
        return self._value

    def part(self, *key: Any) -> Any:
        """A part of the value read without reading it all, or None where this value cannot give
        one (the caller then uses the whole value). This one never can; subclasses may."""
        return None

    def __repr__(self) -> str:
        return f"Deferred({self.what}, {'read' if self.loaded else 'not read yet'})"


class ReadOnFirstUse:
    """Field descriptor: holds a value or a :class:`Deferred`, and hands out the value.

    Used as a dataclass field's class attribute. Reading it on the class raises AttributeError, so
    the field keeps no default (it stays a required argument). The frozen dataclass's ``__init__``
    stores through ``__set__``, the only way the field is ever written.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.slot = name, f"_{name}_value"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            raise AttributeError(self.name)
        value = obj.__dict__[self.slot]
        return value() if isinstance(value, Deferred) else value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value

    def is_read(self, obj: Any) -> bool:
        """Whether the value is in memory (given, or deferred and read since)."""
        return self.pending(obj) is None

    def pending(self, obj: Any) -> Deferred | None:
        """The Deferred holding the value when it is not read yet, else None."""
        value = obj.__dict__[self.slot]
        return value if isinstance(value, Deferred) and not value.loaded else None

    def part(self, obj: Any, *key: Any) -> Any:
        """``Deferred.part(*key)`` of the value not read yet; None when it is read (or given)."""
        pending = self.pending(obj)
        return None if pending is None else pending.part(*key)


def replace_run(obj: Any, **changes: Any) -> Any:
    """dataclasses.replace that hands on a field's Deferred value unread (dataclasses.replace reads
    every field it keeps, which would read a large version's task texts for a what-if copy)."""
    import dataclasses

    for name, attr in vars(type(obj)).items():
        if isinstance(attr, ReadOnFirstUse) and name not in changes:
            changes[name] = obj.__dict__[attr.slot]
    return dataclasses.replace(obj, **changes)
