"""XSD validation against the official ISO 20022 schemas committed in xsd/ (nothing is fetched at run time)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from lxml import etree

from .model import NAMESPACE_PREFIX, InvalidMessage, MessageName

XSD_DIR = Path(__file__).resolve().parent / "xsd"
# One compiled schema per thread: lxml does not promise that a schema object is safe to share across threads.
_local = threading.local()


def xsd_path(message: MessageName) -> Path:
    return XSD_DIR / f"{message}.xsd"


def _schema(message: MessageName) -> etree.XMLSchema:
    schemas: dict[str, etree.XMLSchema] | None = getattr(_local, "schemas", None)
    if schemas is None:
        schemas = _local.schemas = {}
    schema = schemas.get(message)
    if schema is None:
        schema = schemas[message] = etree.XMLSchema(etree.parse(str(xsd_path(message)), parser=safe_parser()))
    return schema


def safe_parser() -> etree.XMLParser:
    """A parser for files from outside: no entity expansion, no network, no DTD loading."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=True
    )


def parse(xml: bytes) -> etree._ElementTree:
    try:
        doc = etree.ElementTree(etree.fromstring(xml, parser=safe_parser()))
    except etree.XMLSyntaxError as exc:
        raise InvalidMessage(f"line {exc.lineno}: not well-formed XML: {exc.msg}") from exc
    if getattr(doc.docinfo, "doctype", ""):  # (not in the lxml stubs)
        # ISO 20022 messages have no DTD; one in a file from outside can only be an entity trick.
        raise InvalidMessage("line 1: a DOCTYPE declaration is not allowed in an ISO 20022 message")
    return doc


def message_name(doc: etree._ElementTree) -> str:
    """The ISO 20022 message name a document declares through its namespace, e.g. pain.002.001.12."""
    root = doc.getroot()
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Document" or not namespace.startswith(NAMESPACE_PREFIX):
        raise InvalidMessage(f"line {root.sourceline}: root is {root.tag}, not an ISO 20022 Document")
    return namespace[len(NAMESPACE_PREFIX) :]


def validate_tree(doc: etree._ElementTree, message: MessageName) -> None:
    declared = message_name(doc)
    if declared != message:
        raise InvalidMessage(f"line {doc.getroot().sourceline}: document is {declared}, expected {message}")
    schema = _schema(message)
    try:
        valid = schema.validate(doc)
    except etree.XMLSchemaValidateError as exc:
        raise InvalidMessage(f"line {doc.getroot().sourceline}: the validator gave up: {exc}") from exc
    if not valid:
        log = list(cast(Iterable[Any], schema.error_log))  # the stubs do not type the error log
        first = log[0]
        more = f" (and {len(log) - 1} more errors)" if len(log) > 1 else ""
        raise InvalidMessage(f"line {first.line}: {first.message}{more}")


def validate(xml: bytes, message: MessageName) -> None:
    """Raises InvalidMessage (line and reason) unless xml is a well-formed `message` valid against its XSD."""
    validate_tree(parse(xml), message)
