"""Secret environment variables of an app (VAR-ENV), encrypted at rest with the workspace cipher.

The variables travel as the DSL writes them, a list of mappings with ``name``, ``value_type``,
``value`` and ``id``. Along an app's life:

- on import or save, :func:`seal_environment` encrypts the value of every ``secret`` variable (a
  value given as :data:`HIDDEN_VALUE` keeps the one already stored: the console shows secrets masked
  and sends the mask back when the user did not change them);
- before a run, :func:`open_environment` decrypts them;
- for the console, :func:`mask_environment` hides them;
- on export, :func:`export_environment` blanks them, unless the user asked to include them.

Each ciphertext is bound to its workspace, app and variable (by id, or by name when it has none): a
value copied to another app or variable does not decrypt. An empty value is no secret and stays empty.
Lists are never changed in place; each function returns new mappings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import SecretKeyError
from .secrets import SecretCipher

__all__ = ["HIDDEN_VALUE", "export_environment", "mask_environment", "open_environment", "seal_environment"]

#: What the console shows instead of a secret's value, and sends back for "unchanged" (Dify's mask).
HIDDEN_VALUE = "[__HIDDEN__]"

_SECRET = "secret"


def seal_environment(
    cipher: SecretCipher,
    tenant_id: str,
    app_id: str,
    variables: Sequence[Mapping[str, Any]],
    *,
    stored: Iterable[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """``variables`` with every secret value encrypted; ``stored`` (the sealed list saved before)
    supplies the values given as :data:`HIDDEN_VALUE`."""
    previous = {_key(variable): variable.get("value") for variable in stored if variable.get("value_type") == _SECRET}
    sealed = []
    for index, variable in enumerate(variables):
        item = dict(variable)
        if item.get("value_type") == _SECRET:
            value = _text(item, index)
            if value == HIDDEN_VALUE:
                kept = previous.get(_key(item))
                if not isinstance(kept, str):
                    raise ValueError(
                        f"environment_variables[{index}] ({item.get('name')}): the value is the mask "
                        f"{HIDDEN_VALUE} but no value is stored for this variable; give the secret itself"
                    )
                item["value"] = kept
            elif value:
                item["value"] = cipher.encrypt(tenant_id, value, context=_context(app_id, item))
        sealed.append(item)
    return sealed


def open_environment(
    cipher: SecretCipher, tenant_id: str, app_id: str, variables: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``variables`` (as sealed) with every secret value decrypted, for a run; a value that does not
    decrypt raises :class:`~treadle.tenancy.errors.SecretKeyError` naming the variable."""
    opened = []
    for index, variable in enumerate(variables):
        item = dict(variable)
        if item.get("value_type") == _SECRET:
            value = _text(item, index)
            if value:
                try:
                    item["value"] = cipher.decrypt(tenant_id, value, context=_context(app_id, item))
                except SecretKeyError as exc:
                    raise cipher.error(f"environment_variables[{index}] ({item.get('name')}): {exc.message}") from None
        opened.append(item)
    return opened


def mask_environment(variables: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``variables`` with every non-empty secret value replaced by :data:`HIDDEN_VALUE`."""
    return [
        {**variable, "value": HIDDEN_VALUE}
        if variable.get("value_type") == _SECRET and variable.get("value")
        else dict(variable)
        for variable in variables
    ]


def export_environment(
    cipher: SecretCipher,
    tenant_id: str,
    app_id: str,
    variables: Sequence[Mapping[str, Any]],
    *,
    include_secrets: bool = False,
) -> list[dict[str, Any]]:
    """``variables`` (as sealed) as a DSL export writes them: secret values blank, or decrypted when
    ``include_secrets``."""
    if include_secrets:
        return open_environment(cipher, tenant_id, app_id, variables)
    return [
        {**variable, "value": ""} if variable.get("value_type") == _SECRET else dict(variable) for variable in variables
    ]


def _key(variable: Mapping[str, Any]) -> str:
    return str(variable.get("id") or "") or f"name:{variable.get('name')}"


def _context(app_id: str, variable: Mapping[str, Any]) -> str:
    return f"app/{app_id}/env/{_key(variable)}"


def _text(variable: Mapping[str, Any], index: int) -> str:
    value = variable.get("value")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(
            f"environment_variables[{index}] ({variable.get('name')}): a secret's value must be text, "
            f"not {type(value).__name__}"
        )
    return value
