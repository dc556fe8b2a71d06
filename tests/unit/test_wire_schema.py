"""The wire schema (``codat_nb.wire.schema``) says what Codat's OpenAPI document says.

Each Schema is compared with its component: the same properties in the same order, the same
required set, the same nullability (3.0's ``nullable: true``, also where it sits beside a
``$ref``), the same enum values, compatible kinds, and ``additionalProperties: false`` where the
document forbids extra properties. A field added to one and not the other fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from codat_nb.wire import schema as s
from tests.support import SPEC_PATH

pytestmark = pytest.mark.skipif(
    not SPEC_PATH.is_file(), reason=f"Codat OpenAPI document not found at {SPEC_PATH}"
)

#: Which JSON types each kind of the wire schema may stand for.
KIND_TYPES = {
    s.TEXT: {"string"},
    s.ENUM: {"string"},
    s.DATETIME: {"string"},
    s.INTEGER: {"integer"},
    s.OBJECT: {"object"},
    s.MODEL: {"object"},
    s.LIST: {"array"},
}


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def pointer(spec: dict, ref: str) -> dict:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def resolve(spec: dict, node: dict) -> tuple[dict, bool]:
    """Follow ``$ref`` chains; returns the target and whether any step said ``nullable``."""
    nullable = bool(node.get("nullable"))
    while "$ref" in node:
        node = pointer(spec, node["$ref"])
        nullable = nullable or bool(node.get("nullable"))
    return node, nullable


def properties(spec: dict, component: dict) -> tuple[dict[str, dict], set[str], dict]:
    """Properties (in order), required names and the merged component, ``allOf`` flattened."""
    merged: dict[str, dict] = {}
    required: set[str] = set()
    extra: dict = {}
    parts = component.get("allOf", [component])
    for part in parts:
        part, _ = resolve(spec, part)
        merged.update(part.get("properties", {}))
        required |= set(part.get("required", ()))
        if "additionalProperties" in part:
            extra["additionalProperties"] = part["additionalProperties"]
    return merged, required, extra


COMPONENTS = {
    "Connection": "#/components/schemas/Connection",
    "DataConnectionError": "#/components/schemas/Connection/definitions/dataConnectionError",
    "Company": "#/components/schemas/Company",
    "CompanyReference": "#/components/schemas/Company/definitions/companyReference",
    "ErrorMessage": "#/components/schemas/ErrorMessage",
    "ErrorValidation": "#/components/schemas/ErrorMessage/definitions/errorValidation",
    "ValidationItem": "#/components/schemas/ErrorMessage/definitions/errorValidationItem",
}
SCHEMAS = {
    x.name: x
    for x in (
        s.CONNECTION,
        s.DATA_CONNECTION_ERROR,
        s.COMPANY,
        s.COMPANY_REFERENCE,
        s.ERROR_MESSAGE,
        s.ERROR_VALIDATION,
        s.VALIDATION_ITEM,
    )
}


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_schema_matches_the_openapi_component(spec, name):
    declared = SCHEMAS[name]
    documented = [f for f in declared.fields if f.contract]
    props, required, extra = properties(spec, pointer(spec, COMPONENTS[name]))
    assert tuple(f.wire for f in documented) == tuple(props), "properties and their order"
    assert set(declared.required) == required
    assert declared.extra_allowed == extra.get("additionalProperties", True)
    assert declared.extra_allowed or len(documented) == len(declared.fields), "no room for extras"
    for field in documented:
        node, nullable = resolve(spec, props[field.wire])
        where = f"{name}.{field.wire}"
        assert field.nullable == nullable, f"{where}: nullable"
        assert node.get("type", "string") in KIND_TYPES[field.kind], f"{where}: kind"
        assert field.values == tuple(node.get("enum", ())), f"{where}: enum values"
        if isinstance(field.item, s.Schema) and field.kind == s.LIST:
            item, _ = resolve(spec, node["items"])
            item_props, _, _ = properties(spec, item)
            assert tuple(item_props) == field.item.wire_names, f"{where}: item schema"


def test_the_page_envelope_matches_paging_info(spec):
    props, required, _ = properties(spec, pointer(spec, "#/components/schemas/Connections"))
    assert s.PAGE.wire_names == tuple(props)
    assert set(s.PAGE.required) == required


def test_frame_order_names_only_real_columns():
    from codat_nb.frames import COMPANY_DERIVED, CONNECTION_DERIVED

    for schema, derived in ((s.CONNECTION, CONNECTION_DERIVED), (s.COMPANY, COMPANY_DERIVED)):
        columns = {f.column_name for f in schema.columns} | set(derived)
        assert set(schema.frame_order) <= columns, schema.name
        assert len(schema.frame_columns(tuple(derived))) == len(columns)


def test_fields_outside_the_document_say_where_codat_documents_them():
    """A field the OpenAPI document lacks is one Codat sends all the same: docs/fidelity.md
    names its source, and it is optional (the client must not depend on it)."""
    from tests.support import ROOT

    fidelity = (ROOT / "docs" / "fidelity.md").read_text()
    extras = [(x.name, f) for x in SCHEMAS.values() for f in x.fields if not f.contract]
    assert extras, "none left: drop the contract attribute"
    for schema_name, field in extras:
        assert f"`{field.wire}`" in fidelity, f"{schema_name}.{field.wire} is not in fidelity.md"
        assert not field.required
