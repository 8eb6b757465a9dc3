"""How a process group's collectives complete their torch futures.

One thread waits for gccl's requests in the order they were issued, which is the order gccl
completes a communicator's collectives in, so it never waits behind one that is already done.
It does not complete the futures itself: setting a future's result runs the callbacks chained
to it, and a callback may issue a collective and wait for it (DDP's PowerSGD hook does), which
only this thread could complete. Results are handed to runner threads instead, one more
whenever all are busy.
"""
import queue
import threading
import traceback


class _Runners:
    """Threads that run the functions handed to them, one more whenever every one is busy,
    so that a function that blocks holds none of the others up."""

    def __init__(self, name):
        self._name = name
        self._lock = threading.Lock()
        self._queue = queue.SimpleQueue()
        self._idle = 0
        self._threads = []

    def run(self, function):
        with self._lock:
            if self._idle:
                self._idle -= 1  # that thread takes it
            else:
                thread = threading.Thread(target=self._serve, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        self._queue.put(function)

    def stop(self, but=None):
        """Ends every thread once the functions given before have run (the queue is first in,
        first out) and waits for them, all but `but` (a runner that waits for the caller)."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            if thread is not but:
                thread.join()

    def _serve(self):
        while (function := self._queue.get()) is not None:
            try:
                function()
            except Exception:  # a bug: said, and the thread goes on serving
                traceback.print_exc()
            del function  # what it holds (a result's tensors) goes now, not at the next one
            with self._lock:
                self._idle += 1


class Completions:
    """Completes each future added once its request is done (see the module)."""

    def __init__(self, name, on_failure):
        self._on_failure = on_failure  # told of every failure, on the waiting thread
        self._lock = threading.Lock()
        self._stopped = False
        self._then = None
        self._stopper = None
        self._queue = queue.SimpleQueue()
        self._runners = _Runners(f"{name}-callbacks")
        self._thread = threading.Thread(target=self._wait_in_order, name=name, daemon=True)
        self._thread.start()

    def add(self, request, finish, future):
        """Completes `future` with finish()'s value once `request` is done (None: nothing to
        wait for), or with the error either raised. After stop(), in the caller."""
        with self._lock:
            if not self._stopped:
                self._queue.put((request, finish, future))
                return
        self._complete(request, finish, future, deliver=lambda set_future: set_future())

    def stop(self, then):
        """Completes what was added, ends the runners once every result is delivered (a
        callback may still issue a collective), then calls `then()` on the waiting thread.
        Waits for that unless it is the waiting thread (a group dropped there)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped, self._then = True, then
            self._stopper = threading.current_thread()
            self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _wait_in_order(self):
        while (item := self._queue.get()) is not None:
            self._complete(*item, deliver=self._runners.run)
            del item
        try:
            self._runners.stop(but=self._stopper)
        finally:
            self._then()

    def _complete(self, request, finish, future, deliver):
        try:
            if request is not None:
                request.wait()
            value = finish()
        except BaseException as error:  # never ends the thread: later futures need it
            if not isinstance(error, Exception):
                error = RuntimeError(f"gccl: a collective's completion failed: {error!r}")
            self._on_failure(error)
            _deliver(deliver, lambda error=error: future.set_exception(error))
        else:
            _deliver(deliver, lambda: future.set_result(value))


def _deliver(deliver, set_future):
    """Hands `set_future` to `deliver`; runs it here if that fails (no thread to start)."""
    try:
        deliver(set_future)
    except Exception:
        set_future()
