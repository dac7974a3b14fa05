"""Identity numbers and codes, checked with python-stdnum rather than hand-written algorithms:
resident ID (GB 11643), unified social credit code (GB 32100), bank card numbers (Luhn), administrative
division codes (GB/T 2260, from stdnum's maintained table), mainland mobile numbers."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from stdnum import luhn, numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.util import isdigits

from .errors import InvalidField

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_CNAPS = re.compile(r"^\d{12}$")
_COMPACT_RIC = re.compile(r"^[0-9]{17}[0-9Xx]$")  # already compact: stdnum's clean() would change nothing


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    sex: str  # "male" | "female" (17th digit odd: male)

    @property
    def masked(self) -> str:
        return f"{self.number[:4]}{'*' * 10}{self.number[-4:]}"


def parse_resident_id(value: str, field: str = "id_number") -> ResidentId:
    number = value.upper() if _COMPACT_RIC.match(value or "") else ric.compact(value or "")
    try:
        birth = _validate_ric(number)
    except InvalidLength as exc:
        raise InvalidField(field, "居民身份号码应为18位", "resident ID number must have 18 characters") from exc
    except InvalidChecksum as exc:
        raise InvalidField(
            field, "居民身份号码校验码错误（GB 11643）", "resident ID check digit is wrong (GB 11643)"
        ) from exc
    except InvalidComponent as exc:
        raise InvalidField(
            field, "居民身份号码中的出生日期或地址码无效", "resident ID has an invalid birth date or address code"
        ) from exc
    except (InvalidFormat, ValidationError) as exc:
        raise InvalidField(field, "居民身份号码格式错误", "resident ID number is malformed") from exc
    if birth > _today():
        raise InvalidField(field, "居民身份号码中的出生日期在未来", "resident ID birth date is in the future")
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentId(number=number, birth_date=birth, sex=sex)


_day = (0.0, date.today())


def _today() -> date:
    """date.today(), looked at again after a second (it costs a few microseconds, bulk intake asks per record)."""
    global _day
    now = time.monotonic()
    if now - _day[0] > 1.0:
        _day = (now, date.today())
    return _day[1]


def _validate_ric(number: str) -> date:
    """stdnum's ric.validate step by step, returning the birth date; the birth-place lookup (an address code
    valid in the birth year, from stdnum's table) is cached, because it costs most of the time and bulk
    intake checks thousands of numbers that share a few address codes and years."""
    if len(number) != 18:
        raise InvalidLength()
    if not isdigits(number[:-1]):
        raise InvalidFormat()
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidChecksum()
    birth = _birth_date(number[6:14])
    if not _birth_place_valid(number[:6], birth.year):
        raise InvalidComponent()
    return birth


@lru_cache(maxsize=65536)
def _birth_date(digits: str) -> date:
    """stdnum's reading of the birth date (YYYYMMDD, digits 7 to 14), cached: stdnum cleans the whole number
    first (a character-by-character pass), and many numbers share a birth date. InvalidComponent is not cached."""
    birth: date = ric.get_birth_date(f"000000{digits}0000")
    return birth


@lru_cache(maxsize=8192)
def _birth_place_valid(address_code: str, year: int) -> bool:
    try:
        ric.get_birth_place(f"{address_code}{year:04d}0101")  # reads the address code and the birth year only
    except (InvalidComponent, KeyError):  # KeyError: stdnum 2.2 on a code its table knows without a county
        return False
    return True


def check_credit_code(value: str, field: str = "credit_code") -> str:
    code, error = _credit_code(value or "")
    if error is None:
        return code
    reason_zh, reason_en = error
    raise InvalidField(field, reason_zh, reason_en)


@lru_cache(maxsize=8192)
def _credit_code(value: str) -> tuple[str, tuple[str, str] | None]:
    """(code, None) or ("", (reason_zh, reason_en)); cached, as many records name the same enterprise."""
    code = uscc.compact(value)
    try:
        return str(uscc.validate(code)), None
    except InvalidLength:
        return "", ("统一社会信用代码应为18位", "unified social credit code must have 18 characters")
    except InvalidChecksum:
        return "", (
            "统一社会信用代码校验码错误（GB 32100）",
            "unified social credit code check character is wrong (GB 32100)",
        )
    except ValidationError:
        return "", ("统一社会信用代码格式错误", "unified social credit code is malformed")


def check_card_number(value: str, field: str = "account_number") -> str:
    """Social-security-card financial accounts and bank cards carry a Luhn check digit."""
    number = (value or "").replace(" ", "")
    if not number.isdigit() or not 12 <= len(number) <= 19:
        raise InvalidField(field, "银行卡号应为12至19位数字", "card number must be 12 to 19 digits")
    if not luhn.is_valid(number):
        raise InvalidField(field, "银行卡号校验位错误（Luhn）", "card number check digit is wrong (Luhn)")
    return number


def check_enterprise_account(value: str, field: str = "account_number") -> str:
    """Enterprise basic accounts have bank-specific formats without a common check digit."""
    number = (value or "").replace(" ", "")
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise InvalidField(field, "对公账号应为8至32位数字", "enterprise account number must be 8 to 32 digits")
    return number


def check_bank_code(value: str, field: str = "bank_code") -> str:
    if not _CNAPS.match(value or ""):
        raise InvalidField(field, "开户行行号应为12位数字（CNAPS）", "bank code must be the 12-digit CNAPS code")
    return value


def check_mobile(value: str, field: str = "mobile") -> str:
    if not _MOBILE.match(value or ""):
        raise InvalidField(field, "手机号码格式错误", "mobile number must be 11 digits starting with 1")
    return value


def check_region_code(value: str, field: str = "region_code") -> str:
    """A current administrative division code (GB/T 2260)."""
    error = _region_code_error(value or "")
    if error is not None:
        raise InvalidField(field, *error)
    return value


@lru_cache(maxsize=8192)
def _region_code_error(value: str) -> tuple[str, str] | None:
    """None for a current code, else (reason_zh, reason_en); cached (stdnum's table lookup is slow)."""
    if not re.fullmatch(r"\d{6}", value):
        return "行政区划代码应为6位数字", "region code must be 6 digits"
    results = numdb.get("cn/loc").info(value)
    info = {k: v for _, props in results for k, v in props.items()}
    if "province" not in info:
        return "行政区划代码不存在", "region code does not exist"
    if value[2:] == "0000":
        return None  # the province itself
    county = info.get("county")
    if county is None:
        return "行政区划代码不存在", "region code does not exist"
    if all(c.startswith("[") and not re.match(r"^\[\d*-\]", c) for c in county.split(",")):
        return "行政区划代码已撤销", "region code is no longer in use"
    return None


def check_birth_consistent(resident: ResidentId, declared: date | None, field: str = "birth_date") -> None:
    if declared is not None and declared != resident.birth_date:
        raise InvalidField(
            field,
            f"出生日期与居民身份号码不一致（号码中为{resident.birth_date.isoformat()}）",
            f"birth date does not match the resident ID ({resident.birth_date.isoformat()})",
        )
