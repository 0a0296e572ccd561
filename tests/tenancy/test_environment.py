from __future__ import annotations

import copy
from typing import Any

import pytest
from treadle.graph.dsl import load_dsl
from treadle.tenancy import (
    HIDDEN_VALUE,
    SecretCipher,
    SecretKeyError,
    export_environment,
    mask_environment,
    open_environment,
    seal_environment,
)

DSL = """
app: {name: env demo, mode: workflow}
kind: app
version: 0.3.0
workflow:
  graph: {nodes: [], edges: []}
  environment_variables:
    - {id: v-key, name: api_key, value_type: secret, value: sk-live-123}
    - {id: v-url, name: base_url, value_type: string, value: https://example.test}
    - {id: v-n, name: retries, value_type: number, value: 3}
    - {name: unset_token, value_type: secret, value: ""}
"""


@pytest.fixture
def variables() -> list[dict[str, Any]]:
    app = load_dsl(DSL)
    assert app.workflow is not None
    return [variable.model_dump() for variable in app.workflow.environment_variables]


def test_secrets_are_sealed_on_import_and_opened_for_runs(
    cipher: SecretCipher, variables: list[dict[str, Any]]
) -> None:
    given = copy.deepcopy(variables)
    sealed = seal_environment(cipher, "t1", "app-1", variables)
    assert variables == given  # nothing changed in place
    values = {variable["name"]: variable["value"] for variable in sealed}
    assert SecretCipher.is_encrypted(values["api_key"]) and "sk-live-123" not in values["api_key"]
    assert (values["base_url"], values["retries"], values["unset_token"]) == ("https://example.test", 3, "")
    assert open_environment(cipher, "t1", "app-1", sealed) == variables


def test_a_sealed_secret_belongs_to_its_app(cipher: SecretCipher, variables: list[dict[str, Any]]) -> None:
    sealed = seal_environment(cipher, "t1", "app-1", variables)
    with pytest.raises(
        SecretKeyError,
        match=r"^environment_variables\[0\] \(api_key\): secret 'app/app-2/env/v-key' cannot be decrypted",
    ):
        open_environment(cipher, "t1", "app-2", sealed)
    with pytest.raises(SecretKeyError, match=r"environment_variables\[0\] \(api_key\)"):
        open_environment(cipher, "t2", "app-1", sealed)


def test_the_console_sees_masks_and_sends_them_back_for_unchanged(
    cipher: SecretCipher, variables: list[dict[str, Any]]
) -> None:
    sealed = seal_environment(cipher, "t1", "app-1", variables)
    shown = mask_environment(sealed)
    assert [variable["value"] for variable in shown] == [HIDDEN_VALUE, "https://example.test", 3, ""]
    edited = [dict(shown[0]), {**shown[1], "value": "https://other.test"}, shown[2], {**shown[3], "value": "tok-9"}]
    saved = seal_environment(cipher, "t1", "app-1", edited, stored=sealed)
    assert saved[0]["value"] == sealed[0]["value"]
    opened = open_environment(cipher, "t1", "app-1", saved)
    assert [variable["value"] for variable in opened] == ["sk-live-123", "https://other.test", 3, "tok-9"]


def test_a_mask_with_nothing_stored_is_an_error(cipher: SecretCipher, variables: list[dict[str, Any]]) -> None:
    variables[0]["value"] = HIDDEN_VALUE
    with pytest.raises(ValueError, match=r"environment_variables\[0\] \(api_key\): the value is the mask"):
        seal_environment(cipher, "t1", "app-1", variables)


def test_export_blanks_secrets_unless_asked(cipher: SecretCipher, variables: list[dict[str, Any]]) -> None:
    sealed = seal_environment(cipher, "t1", "app-1", variables)
    blank = export_environment(cipher, "t1", "app-1", sealed)
    assert [variable["value"] for variable in blank] == ["", "https://example.test", 3, ""]
    assert export_environment(cipher, "t1", "app-1", sealed, include_secrets=True) == variables


def test_a_secret_that_is_not_text_is_refused(cipher: SecretCipher) -> None:
    with pytest.raises(ValueError, match=r"environment_variables\[0\] \(pin\): a secret's value must be text, not int"):
        seal_environment(cipher, "t1", "app-1", [{"name": "pin", "value_type": "secret", "value": 1234}])
