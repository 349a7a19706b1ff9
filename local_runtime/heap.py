"""The cyclic garbage collector in the runtime's own long-running processes (gateway, data process)."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Move everything alive now (modules, botocore's and moto's service models, the template) to
    the collector's permanent generation, and return how many objects that was.

    A full collection walks every tracked object, and most of them are made at start-up and live
    as long as the process. Walked each time, they made the full passes of the data process and
    the gateway 50-160 ms long (every few seconds under load), and each one stopped every request
    of its process; cycles made after this call are still collected as before.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
