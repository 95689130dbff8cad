"""Text the database cannot store is refused at the edge, in one place for
every route: a NUL byte (PostgreSQL refuses it in any text column) or a lone
UTF-16 surrogate (it has no UTF-8 form), in the query string, the path, a
form field (not a file's bytes) or anywhere in a JSON body. The caller gets a
422 sentence instead of a server error deep inside a query."""

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from market.errors import N_, InvalidInput


class UnstorableText(InvalidInput):
    def __init__(self, field: str) -> None:
        super().__init__(
            N_(
                "“{field}” contains a NUL byte or a broken character (a lone UTF-16 "
                "surrogate), which cannot be stored. Remove it and try again."
            ),
            field=field,
        )


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _first_unstorable_in_json(document: Any) -> str | None:
    """The name of the first field holding unstorable text (keys included);
    iterative, so a deeply nested body cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [("input", document)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not storable(value):
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                if not storable(key):
                    return "input"
                stack.append((key, item))
        elif isinstance(value, list):
            stack.extend((where, item) for item in value)
    return None


async def refuse_unstorable_text(request: Request) -> None:
    """An app-wide dependency. FastAPI has already read the body of routes that
    take one (the form and the raw JSON are cached on the request), so the
    check costs a second look, not a second read."""
    for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
        if isinstance(value, str) and not (storable(name) and storable(value)):
            raise UnstorableText(name if storable(name) else "input")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        for name, field in form.multi_items():
            text = (field.filename or "") if isinstance(field, UploadFile) else field
            if not (storable(name) and storable(text)):
                raise UnstorableText(name if storable(name) else "input")
    elif content_type == "application/json" or content_type.endswith("+json"):
        try:
            document = json.loads(await request.body())
        except (ValueError, RecursionError):
            return  # not JSON: the route's own validation says so
        where = _first_unstorable_in_json(document)
        if where is not None:
            raise UnstorableText(where)
