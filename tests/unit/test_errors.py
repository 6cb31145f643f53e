import pytest

from deepseek_apps.errors import (
    DeepSeekAppsError,
    ErrorCode,
    InvalidInputError,
    MissingResourceError,
    ModelFormatError,
    RuntimeFailure,
    require,
)


def test_codes_are_unique_and_grouped_by_family():
    codes = [c.value for c in ErrorCode]
    assert len(codes) == len(set(codes))
    families = {1: InvalidInputError, 2: MissingResourceError, 3: ModelFormatError, 4: RuntimeFailure}
    for code in ErrorCode:
        assert code.value // 1000 in families, code


def test_message_names_value_and_hint():
    err = InvalidInputError(ErrorCode.IMAGE_DTYPE, "bad dtype", value="float64", hint="pass uint8")
    text = str(err)
    assert "DSA-1003" in text and "float64" in text and "pass uint8" in text
    assert err.code == 1003
    assert err.to_dict()["family"] == "invalid_input"
    assert isinstance(err, DeepSeekAppsError) and isinstance(err, ValueError)


def test_require_names_the_extra():
    with pytest.raises(MissingResourceError) as info:
        require("surely_not_a_module_xyz", "openvino")
    assert info.value.code == ErrorCode.OPTIONAL_DEPENDENCY
    assert "deepseek-apps[openvino]" in str(info.value)
