"""What a thread test asks of a lock: is another thread holding it? (The package's locks are
re-entrant, and ``threading.RLock`` has no ``locked()`` before Python 3.13.)"""


def held_by_another_thread(lock):
    """True while a thread other than this one holds ``lock`` (a Lock or an RLock)."""
    if lock.acquire(blocking=False):  # (an RLock this thread holds is taken again: not another's)
        lock.release()
        return False
    return True
