"""Name and phone normalisation, tax ID schemes and IBAN checks."""

from __future__ import annotations

import pytest

from xietong.party.identifiers import (
    TaxIdError,
    clean_iban,
    looks_like_iban,
    normalize_name,
    normalize_phone,
    scheme_for,
    scheme_get,
)


@pytest.mark.parametrize(
    "a,b",
    [
        ("上海骑行者贸易有限公司", "上海 骑行者贸易（集团）"),
        ("上海骑行者贸易股份有限公司", "上海骑行者贸易"),
        ("深圳飞轮科技集团有限公司", "深圳飞轮科技"),
        ("Velo Sport GmbH", "VELO-SPORT"),
        ("Velo Sport Co., Ltd.", "velo sport limited"),
        ("Velo Sport GmbH & Co. KG", "Velo  Sport"),
        ("Ｖｅｌｏ Ｓｐｏｒｔ Inc.", "Velo Sport"),
    ],
)
def test_spellings_of_the_same_company_collide(a, b):
    assert normalize_name(a) == normalize_name(b)


def test_different_companies_and_bare_suffixes_stay_apart():
    assert normalize_name("上海骑行者贸易") != normalize_name("上海骑行者物流")
    assert normalize_name("Limited") == "limited"  # never stripped to nothing
    assert normalize_name("有限公司") != ""


@pytest.mark.parametrize(
    "a,b",
    [
        ("+86 21 5555-1234", "021 5555 1234"),
        ("0086 138 0013 8000", "138-0013-8000"),
        ("+49 (30) 123 456", "0049 30 123456"),
    ],
)
def test_phone_numbers_compare_by_their_digits(a, b):
    assert normalize_phone(a) == normalize_phone(b) != ""


def test_the_country_chooses_the_scheme():
    assert scheme_for(country="CN").code == "cn.uscc"
    assert scheme_for(country="DE").code == "eu.vat"
    assert scheme_for(country="US").code == "us.ein"
    assert scheme_for(country="HK").code == "hk.br"
    assert scheme_for(country="JP").code == "other"
    assert scheme_for(country=None, code="us.ein").code == "us.ein"
    with pytest.raises(LookupError):
        scheme_for(country="CN", code="xx.nothing")


def test_any_stdnum_module_is_a_scheme_and_others_are_refused():
    scheme = scheme_get("cn.ric")
    assert scheme is not None and scheme.module == "stdnum.cn.ric"
    assert scheme_get("de.stnr") is not None
    assert scheme_get("os.system") is None
    assert scheme_get("../etc") is None


def test_eu_vat_without_its_prefix_takes_the_countrys():
    scheme = scheme_for(country="DE")
    assert scheme.clean("136 695 976", country="DE") == "DE136695976"
    assert scheme_for(country="GR").clean("094259216", country="GR") == "EL094259216"
    with pytest.raises(TaxIdError, match="EU VAT number"):
        scheme.clean("DE136695977", country="DE")


def test_iban_is_recognised_and_checked():
    assert looks_like_iban("DE89 3704 0044 0532 0130 00")
    assert not looks_like_iban("6222 0210 0100 1234 567")  # a Chinese account number
    assert clean_iban("de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    with pytest.raises(TaxIdError, match="IBAN"):
        clean_iban("DE89 3704 0044 0532 0130 01")
