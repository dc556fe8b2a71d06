"""The model classes are generated from the wire schema (``tools/generate_models.py``): the
committed module must be what the generator writes today, and each model must have exactly
its schema's fields, names, aliases and optionality."""

from __future__ import annotations

import pytest

from codat_nb.wire import models
from codat_nb.wire import schema as s
from tools.generate_models import MODELS, TARGET, render


def test_the_models_module_is_what_the_generator_writes():
    assert TARGET.read_text() == render(), "run: python tools/generate_models.py"


@pytest.mark.parametrize("schema", MODELS, ids=lambda schema: schema.name)
def test_each_model_has_its_schemas_fields(schema):
    model = getattr(models, schema.name)
    assert model.__codat_schema__ is schema
    fields = model.model_fields
    assert list(fields) == [f.name for f in schema.fields]
    for field in schema.fields:
        assert fields[field.name].alias == field.wire
        assert fields[field.name].is_required() == field.required


def test_every_schema_with_fields_of_its_own_has_a_model():
    schemas = {v.name for v in vars(s).values() if isinstance(v, s.Schema)}
    assert schemas - {m.name for m in MODELS} == {"Page"}  # the envelope is read, not modelled
