"""Entity-level fraud: fraudulent nodes of an attributed, multi-relation graph (``FraudDetector(task="entities")``)."""

from .graph import EntityTask
from .txlog import TransactionLog

__all__ = ["EntityTask", "TransactionLog"]
