"""Errors the registration domain raises; the HTTP layer turns them into problem+json."""

from __future__ import annotations


class RegistrationError(Exception):
    pass


class InvalidField(RegistrationError):
    """A field's value breaks a rule; carries the reason in Chinese and English."""

    def __init__(self, field: str, reason_zh: str, reason_en: str) -> None:
        super().__init__(f"{field}: {reason_en}")
        self.field = field
        self.reason_zh = reason_zh
        self.reason_en = reason_en


class NotFound(RegistrationError):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident} not found")
        self.what = what
        self.ident = ident


class Conflict(RegistrationError):
    """The request contradicts what is stored (e.g. same ID number, different name)."""

    def __init__(self, reason_zh: str, reason_en: str, existing: str | None = None) -> None:
        super().__init__(reason_en)
        self.reason_zh = reason_zh
        self.reason_en = reason_en
        self.existing = existing


class DuplicateApplication(RegistrationError):
    def __init__(self, existing_id: str) -> None:
        super().__init__(f"duplicate of application {existing_id}")
        self.existing_id = existing_id
