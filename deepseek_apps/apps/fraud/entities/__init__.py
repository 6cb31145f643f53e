"""Entity-level fraud: fraudulent nodes of an attributed, multi-relation graph (``FraudDetector(task="entities")``)."""

from .graph import EntityTask

__all__ = ["EntityTask"]
