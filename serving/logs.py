"""Request bodies never reach the logs: a refused body's values are stripped from any
exception a library logs (pydantic errors quote the input)."""

from __future__ import annotations

import logging

from pydantic import ValidationError

SERVER_LOGGERS = ("bentoml", "bentoml.access", "bentoml.serve", "uvicorn.error")


class DropRequestValues(logging.Filter):
    """Replace a logged ``ValidationError`` (which quotes the input) with its count only."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ValidationError):
            record.msg = (
                f"{record.getMessage()}: {exc.error_count()} validation error(s) "
                "(values withheld: request bodies are never logged)"
            )
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def redact_request_values() -> None:
    """Install the filter on the server's loggers and their handlers (idempotent)."""
    flt = DropRequestValues()
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropRequestValues) for f in logger.filters):
            logger.addFilter(flt)
    handlers = [h for name in ("", *SERVER_LOGGERS) for h in logging.getLogger(name).handlers]
    for handler in handlers:
        if not any(isinstance(f, DropRequestValues) for f in handler.filters):
            handler.addFilter(flt)
