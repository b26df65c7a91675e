"""What widgets send to the browser, measured without a browser.

Outside a kernel ipywidgets opens its comms through ``comm.create_comm``; ``recording_comms``
replaces it with a comm that keeps every message a real kernel would send (the comm_open with
the widget's whole state, then each state update) and its size as the kernel serializes it:
the JSON text plus any binary buffers.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import comm


def _size(data: Any, buffers: Any) -> int:
    text = json.dumps(data, default=str, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode()) + sum(len(memoryview(b).cast("B")) for b in buffers or ())


@dataclass
class CommRecorder:
    messages: list[tuple[str, str, int]] = field(default_factory=list)
    """(kind, widget model name, bytes) in order."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, model: str, data: Any, buffers: Any) -> None:
        with self._lock:
            self.messages.append((kind, model, _size(data, buffers)))

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for _, _, size in self.messages)

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()


class RecordingComm:
    kernel = "recording"  # truthy: ipywidgets sends updates only through a comm with a kernel

    def __init__(self, recorder: CommRecorder, data: Any = None, buffers: Any = None, **_: Any):
        self.comm_id = uuid.uuid4().hex
        self._recorder = recorder
        self._model = (data or {}).get("state", {}).get("_model_name", "?")
        recorder.add("open", self._model, data, buffers)

    def open(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_msg(self, callback: Any) -> None:
        return None

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self._recorder.add("update", self._model, data, buffers)

    def close(self, *args: Any, **kwargs: Any) -> None:
        return None


@contextmanager
def recording_comms() -> Iterator[CommRecorder]:
    """Every widget created inside records its comm traffic into the yielded recorder."""
    recorder = CommRecorder()
    original = comm.create_comm
    comm.create_comm = lambda **kwargs: RecordingComm(recorder, **kwargs)  # type: ignore[assignment]
    try:
        yield recorder
    finally:
        comm.create_comm = original  # type: ignore[assignment]


def display_bytes(widget: Any) -> int:
    """The size of the display message that puts ``widget`` in an output cell."""
    bundle = widget._repr_mimebundle_()
    return len(json.dumps(bundle, separators=(",", ":")).encode())
