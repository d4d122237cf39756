"""The schema of a stored version (manifest.json and run.json): every field the code reads, checked on read.

A manifest or run.json written by hand, by an older tool or by a crash can hold any JSON. Each
field the code uses is checked for its type here, once, so that a wrong one (``"parents": 5``,
``"metadata": [...]``, ``metadata.answers = "many"``, run.json ``"meta": 5``) makes its own version
*damaged* with a message naming the field, and never a TypeError in a listing or a page.

A version id is a lower-case hex string (``uuid.uuid4().hex``, a ClearML dataset id): it is the
name of the version's folder, so no path is ever built from an id that did not pass
:func:`is_version_id`.

>>> manifest_errors({"id": "ab" * 16, "name": "toy", "parents": 5}, "ab" * 16)
['parents must be a list of version ids or null; it is the number 5']
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from analytics.sources.store import FORMAT

VERSION_ID = re.compile(r"[0-9a-f]{16,64}")
ID_PREFIX = re.compile(r"[0-9a-f]{1,64}")
SHA256 = re.compile(r"[0-9a-f]{64}")
SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
ID_RULE = "a lower-case hex id of 16 to 64 characters (such as uuid.uuid4().hex)"
MAX_ERRORS = 5  # a damaged version's reason names at most this many fields


def is_version_id(value: Any) -> bool:
    return isinstance(value, str) and VERSION_ID.fullmatch(value) is not None


def is_id_prefix(value: Any) -> bool:
    return isinstance(value, str) and ID_PREFIX.fullmatch(value.strip().lower()) is not None


def is_safe_file_name(value: Any) -> bool:
    return isinstance(value, str) and SAFE_FILE_NAME.fullmatch(value) is not None and ".." not in value


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# spec -> (check, what it must be); a spec ending in "?" also accepts null
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "text": (lambda v: isinstance(v, str), "text"),
    "scalar": (lambda v: isinstance(v, str) or _is_number(v), "text or a number"),
    "count": (_is_count, "a whole number >= 0"),
    "number": (_is_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "dicts": (lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v), "a list of objects"),
    "texts": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of texts"),
    "scalars": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) or _is_number(x) for x in v),
        "a list of texts or numbers",
    ),
    "counts": (lambda v: isinstance(v, list) and all(_is_count(x) for x in v), "a list of whole numbers"),
    "ids": (lambda v: isinstance(v, list) and all(is_version_id(x) for x in v), "a list of version ids"),
}

MANIFEST = {
    "format": "text",
    "id": "text",
    "name": "text",
    "version": "scalar",
    "project": "text?",
    "created": "text?",
    "parents": "ids?",
    "metadata": "dict?",
}
METADATA = {
    "answers": "count?",
    "tasks": "count?",
    "workers": "count?",
    "assignments": "count?",
    "annotation_cost": "number?",
    "annotation_cost_missing": "text?",
    "currency": "text?",
    "language": "text?",
    "instructions": "text?",
    "description": "text?",
    "project": "text?",
    "source": "text?",
    "simulated": "bool?",
    "labels": "scalars?",
    "pools": "dicts?",
    "headline": "dict?",
    "clearml": "dict?",
    "files": "dict?",
}
HEADLINE = {
    "answers": "count?",
    "annotators": "count?",
    "control_answers": "count?",
    "krippendorff_alpha": "number?",
    "control_accuracy": "number?",
    "cost_per_label": "number?",
    "currency": "text?",
}
FILE_ENTRY = {"bytes": "count", "sha256": "text"}
RUN_DOC = {"format": "text?", "meta": "dict?", "pricing": "dict?", "notes": "dicts?"}
RUN_META = {
    "project": "text?",
    "labels": "scalars?",
    "pools": "dicts?",
    "overlap": "count?",
    "instructions": "text?",
    "language": "text?",
    "label_field": "text?",
    "source_files": "list?",
    "simulated": "bool?",
    "extra": "dict?",
    "source_kind": "text?",
    "source_fields": "dict?",
}
POOL = {
    "pool_id": "scalar",
    "name": "text?",
    "kind": "text?",
    "reward_per_assignment": "number?",
    "overlap": "count?",
    "tasks_per_suite": "count?",
    "pass_threshold": "number?",
    "rules": "dicts?",
    "opened_at": "text?",
    "closed_at": "text?",
}
PRICING = {
    "currency": "text?",
    "reward_per_assignment": "number?",
    "fee_rate": "number?",
    "fee_minimum": "number?",
    "bonuses": "dicts?",
}
NOTE = {
    "file": "text",
    "message": "text",
    "fix": "text",
    "column": "text?",
    "rows": "counts?",
    "count": "count?",
    "values": "list?",
    "severity": "text?",
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    return "an object" if isinstance(value, dict) else type(value).__name__


def field_errors(doc: Mapping[str, Any], specs: Mapping[str, str], prefix: str = "") -> list[str]:
    """One message per field of ``doc`` whose value does not have the type ``specs`` gives it.

    A field absent from ``doc`` is not checked here (each reader has a default for it).

    >>> field_errors({"answers": "many"}, {"answers": "count?"}, "metadata.")
    ["metadata.answers must be a whole number >= 0 or null; it is the text 'many'"]
    """
    out = []
    for name, spec in specs.items():
        if name not in doc:
            continue
        value, optional = doc[name], spec.endswith("?")
        if value is None and optional:
            continue
        check, what = _KINDS[spec.rstrip("?")]
        if value is None or not check(value):
            out.append(f"{prefix}{name} must be {what}{' or null' if optional else ''}; it is {_describe(value)}")
    return out


def manifest_errors(doc: Any, folder_name: str) -> list[str]:
    """What is wrong with a manifest stored in the folder ``folder_name`` (empty when nothing is)."""
    if not isinstance(doc, dict):
        return [f"the manifest must be a JSON object; it is {_describe(doc)}"]
    errors = [f"{k} is missing" for k in ("id", "name") if k not in doc]
    errors += field_errors(doc, MANIFEST)
    if doc.get("format", FORMAT) != FORMAT:
        errors.append(f"format is {doc.get('format')!r}, not {FORMAT!r} (written by another crowdlens?)")
    vid = doc.get("id")
    if isinstance(vid, str) and not is_version_id(vid):
        errors.append(f"id {vid[:80]!r} is not {ID_RULE}")
    elif is_version_id(vid) and vid != folder_name:
        errors.append(f"id {vid} is not the name of its folder {folder_name!r}")
    if isinstance(doc.get("name"), str) and not doc["name"].strip():
        errors.append("name is empty")
    md = doc.get("metadata")
    if isinstance(md, dict):
        errors += _metadata_errors(md)
    return errors


def _metadata_errors(md: Mapping[str, Any]) -> list[str]:
    errors = field_errors(md, METADATA, "metadata.")
    if isinstance(md.get("headline"), dict):
        errors += field_errors(md["headline"], HEADLINE, "metadata.headline.")
    files = md.get("files")
    if isinstance(files, dict):
        for name, entry in files.items():
            where = f"metadata.files[{name[:40]!r}]"
            if not is_safe_file_name(name):
                errors.append(f"{where} is not a plain file name")
            elif not isinstance(entry, dict):
                errors.append(f"{where} must be an object with bytes and sha256; it is {_describe(entry)}")
            else:
                errors += [f"{where}.{k} is missing" for k in FILE_ENTRY if k not in entry]
                errors += field_errors(entry, FILE_ENTRY, where + ".")
                if isinstance(entry.get("sha256"), str) and not SHA256.fullmatch(entry["sha256"]):
                    errors.append(f"{where}.sha256 is not a 64-character lower-case hex digest")
    return errors


def run_doc_errors(doc: Any) -> list[str]:
    """What is wrong with a run.json (empty when nothing is)."""
    if not isinstance(doc, dict):
        return [f"run.json must be a JSON object; it is {_describe(doc)}"]
    errors = field_errors(doc, RUN_DOC)
    meta, pricing = doc.get("meta"), doc.get("pricing")
    if isinstance(meta, dict):
        errors += field_errors(meta, RUN_META, "meta.")
        pools = meta.get("pools")
        for i, pool in enumerate(pools if isinstance(pools, list) else []):
            if isinstance(pool, dict):
                errors += [f"meta.pools[{i}].pool_id is missing"] if "pool_id" not in pool else []
                errors += field_errors(pool, POOL, f"meta.pools[{i}].")
    if isinstance(pricing, dict):
        errors += field_errors(pricing, PRICING, "pricing.")
    notes = doc.get("notes")
    for i, note in enumerate(notes if isinstance(notes, list) else []):
        if isinstance(note, dict):
            errors += [f"notes[{i}].{k} is missing" for k in ("file", "message", "fix") if k not in note]
            errors += [f"notes[{i}] has an unknown field {k!r}" for k in note if k not in NOTE]
            errors += field_errors(note, NOTE, f"notes[{i}].")
    return errors


def reason(errors: list[str]) -> str:
    """The errors as one sentence part, at most :data:`MAX_ERRORS` of them."""
    more = len(errors) - MAX_ERRORS
    return "; ".join(errors[:MAX_ERRORS]) + (f"; and {more} more" if more > 0 else "")
