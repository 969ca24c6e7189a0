"""The data pipeline's error type: a `ValueError` whose message is one line with the fix."""
from __future__ import annotations


class DataError(ValueError):
    """Bad data request (unknown name, bad resolution/split/batch, unprepared data set).

    The message is a single line that says what is wrong and how to fix it; the CLI turns it into
    exit status 2.
    """
