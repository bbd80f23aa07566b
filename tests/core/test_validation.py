import pytest

from backend.errors import InvalidInput
from backend.validation import parse_size, validate_name


@pytest.mark.parametrize("name", ["web-01", "a", "db_2.prod", "X" * 63])
def test_good_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "-lead", "a b", "x<y", "a&b", "it's", 'q"', "semi;colon",
                                  "ünï", "X" * 64, None, 5])
def test_bad_names_are_rejected_with_reason(name):
    with pytest.raises(InvalidInput) as exc:
        validate_name(name)
    assert "name" in exc.value.message


@pytest.mark.parametrize("text,expected", [("10G", 10 * 1024**3), ("512M", 512 * 1024**2),
                                           ("1024", 1024), ("1.5K", 1536), ("2GiB", 2 * 1024**3)])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["-1", "0", "10E", "abc", "1X", "", "-5G"])
def test_bad_sizes(text):
    with pytest.raises(InvalidInput):
        parse_size(text)
