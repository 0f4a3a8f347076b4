"""Group commit: one thread that records what the web server receives, in batches of
whatever arrived while the previous batch was written.

Under load, one transaction (one write lock, one commit, one columnar pass where
there is one) serves many requests; alone, a request is written at once. Each
request still gets its own result or its own error: the batch function returns one
per item, and a failure of the batch itself is every item's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatchWriter(Generic[T, R]):
    """Runs ``write`` (items -> one result or exception per item) on a thread of its
    own, started on first use; ``submit`` returns the item's future."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], Sequence[R | Exception]],
        name: str,
        max_batch: int = 64,
    ) -> None:
        self.write, self.name, self.max_batch = write, name, max_batch
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, item: T) -> Future[R]:
        done: Future[R] = Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._queue.put((item, done))
        return done

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._queue.put(None)
                self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                results = self.write([item for item, _ in batch])
            except BaseException as exc:  # the registry failed: every request says so
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for (_, done), result in zip(batch, results, strict=True):
                    if isinstance(result, Exception):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
            if stop:
                return


__all__ = ["BatchWriter"]
