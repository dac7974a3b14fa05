from subsidy_runtime.masking import mask_account, mask_id_number, mask_mobile, mask_text, mask_value


def test_resident_id_keeps_first_and_last_four() -> None:
    assert mask_id_number("43010219900307123X") == "4301**********123X"


def test_account_keeps_last_four() -> None:
    assert mask_account("6217001234567890123") == "****0123"


def test_mobile_keeps_prefix_and_last_four() -> None:
    assert mask_mobile("13812345678") == "138****5678"


def test_free_text_is_masked_everywhere_but_uuids_and_dates_stay() -> None:
    text = (
        "person 43010219900307123X paid to 6217001234567890123, call 13812345678; "
        "application 270163ad-9cb4-4343-a4c6-052184784820 on 2022-09-30"
    )
    masked = mask_text(text)
    assert "43010219900307123X" not in masked
    assert "4301**********123X" in masked
    assert "****0123" in masked
    assert "138****5678" in masked
    assert "270163ad-9cb4-4343-a4c6-052184784820" in masked
    assert "2022-09-30" in masked


def test_nested_structures_are_masked() -> None:
    value = {"a": ["13812345678", {"b": "id 43010219900307123X"}], "n": 5}
    assert mask_value(value) == {"a": ["138****5678", {"b": "id 4301**********123X"}], "n": 5}
