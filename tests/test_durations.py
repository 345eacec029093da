import pytest
from hypothesis import given
from hypothesis import strategies as st

from machines.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2m30s", 150.0),
        ("1h0m5s", 3605.0),
        ("1.5h", 5400.0),
        ("90", 90.0),
        ("2.5", 2.5),
        ("0", 0.0),
        ("0s", 0.0),
        (" 15M ", 900.0),
        # Go's time.Duration as go-awsecs printed and took it.
        ("10m0s", 600.0),
        ("15m0s", 900.0),
        ("1h30m0s", 5400.0),
        ("500ms", 0.5),
        ("1m30s500ms", 90.5),
        ("1.5ms", 0.0015),
        ("250us", 0.00025),
        ("250\u00b5s", 0.00025),
        ("0ms", 0.0),
    ],
)
def test_parse_duration_accepts(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", " ", "-5", "-5s", "abc", "5x", "1m1h", "1s1s", "h", "1.s", ".5", "inf", "nan", "1e3", "5 m",
             "9" * 400, "ms", "5sm", "1ms1s", "5msec"]
)
def test_parse_duration_rejects_with_accepted_forms(text):
    with pytest.raises(ValueError) as excinfo:
        parse_duration(text)
    message = str(excinfo.value)
    assert repr(text) in message
    assert "15m" in message and "plain seconds" in message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (2.5, "2.5s"),
        (2.04, "2s"),
        (59.99, "1m00s"),
        (65, "1m05s"),
        (600, "10m00s"),
        (3723, "1h02m03s"),
        (90000, "25h00m00s"),
        (-10, "-10s"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_duration_rejects_non_finite():
    with pytest.raises(ValueError):
        format_duration(float("inf"))


@given(st.integers(min_value=0, max_value=10**7))
def test_formatted_whole_seconds_parse_back(seconds):
    assert parse_duration(format_duration(seconds)) == seconds
