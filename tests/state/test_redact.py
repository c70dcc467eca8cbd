from sluice.state import redact, redact_text
from sluice.state.redact import MASK


def test_masks_secret_looking_keys_at_any_depth_and_any_value_type() -> None:
    payload = {
        "password": "hunter2",
        "api_key": 123,
        "AwsSecretAccessKey": "x",
        "nested": {"db": {"Token": ["a", "b"], "host": "h"}},
        "items": [{"passwd": "p", "name": "n"}],
        "rows": 10,
    }
    assert redact(payload) == {
        "password": MASK,
        "api_key": MASK,
        "AwsSecretAccessKey": MASK,
        "nested": {"db": {"Token": MASK, "host": "h"}},
        "items": [{"passwd": MASK, "name": "n"}],
        "rows": 10,
    }


def test_broad_match_masks_harmless_key_names_too() -> None:
    assert redact({"primary_key": "id"}) == {"primary_key": MASK}


def test_masks_passwords_inside_urls() -> None:
    text = "connect postgresql://bob:s3cr%40t@db:5432/x failed; see http://example.com/a@b"
    assert redact_text(text) == (
        "connect postgresql://bob:***@db:5432/x failed; see http://example.com/a@b"
    )
    assert redact({"dsn": "s3://AKIA:abc@bucket"}) == {"dsn": "s3://AKIA:***@bucket"}


def test_leaves_input_untouched() -> None:
    payload = {"token": "t", "keep": {"x": 1}}
    redact(payload)
    assert payload == {"token": "t", "keep": {"x": 1}}
