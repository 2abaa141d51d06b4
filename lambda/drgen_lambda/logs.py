"""Structured JSON logs, one object per line."""

import json
import sys
import time


def log(level, event, **fields):
    """Writes one JSON log line to stdout, where Lambda collects it."""
    record = {"time": round(time.time(), 3), "level": level, "event": event}
    record.update(fields)
    sys.stdout.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
