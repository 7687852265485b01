"""The JSON schema: generated from the models, committed, current, and valid for every example."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from dalecpy.spec import spec_json_schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schemas" / "spec.schema.json"


def test_committed_schema_is_current():
    expected = json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA_FILE.read_text() == expected, "schemas/spec.schema.json is stale: run `dalecpy schema > schemas/spec.schema.json`"


@pytest.mark.parametrize("spec", sorted((REPO / "specs").glob("*.yml")), ids=lambda p: p.name)
def test_examples_validate_against_the_schema(spec):
    data = YAML(typ="safe").load(spec.read_text())
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text()))


def test_schema_rejects_a_bad_sharing_mode():
    data = YAML(typ="safe").load((REPO / "specs" / "hello.yml").read_text())
    data["build"]["caches"][0]["dir"]["sharing"] = "forever"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text()))
