"""An mkdocs hook that renders an OpenAPI 3 file into the page, at build time, offline.

A page containing the line::

    <!-- openapi: simulator-openapi.yaml -->

gets that comment replaced by Markdown: the servers, every operation (method, path, summary,
parameters, request body, responses, examples) grouped by tag, and every schema under
``components.schemas`` as a table (type, required, description, enum, default, limits).
``$ref`` to a component schema becomes a link to its table. The path is relative to the page.

Whatever is in the file at build time is rendered; an unresolvable ``$ref`` or an unreadable
file is a warning, so ``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("mkdocs.hooks.openapi")

_MARKER = re.compile(r"^<!--\s*openapi:\s*(\S+)\s*-->\s*$", re.M)
_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
_MAX_DEPTH = 4


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if "<!--" not in markdown or not _MARKER.search(markdown):
        return markdown
    here = Path(config["docs_dir"]) / Path(page.file.src_path).parent

    def replace(match: re.Match[str]) -> str:
        source = here / match.group(1)
        try:
            spec = yaml.safe_load(source.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            log.warning("%s: cannot read OpenAPI file %s: %s", page.file.src_path, source, exc)
            return ""
        if not isinstance(spec, dict):
            log.warning("%s: %s is not an OpenAPI document", page.file.src_path, source)
            return ""
        return _Renderer(spec, page.file.src_path).render()

    return _MARKER.sub(replace, markdown)


def _slug(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _cell(text: Any) -> str:
    """One table cell: no newlines, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "`" + text.replace("`", "'") + "`"


class _Renderer:
    def __init__(self, spec: dict[str, Any], where: str) -> None:
        self.spec = spec
        self.where = where
        self.schemas: dict[str, Any] = (spec.get("components") or {}).get("schemas") or {}

    # -- references -------------------------------------------------------------------------

    def resolve(self, obj: Any) -> Any:
        """Follow a local ``$ref`` (any component kind); other objects are returned as is."""
        seen = set()
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            if ref in seen or not isinstance(ref, str) or not ref.startswith("#/"):
                log.warning("%s: OpenAPI: cannot resolve $ref %r", self.where, ref)
                return {}
            seen.add(ref)
            target: Any = self.spec
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    log.warning("%s: OpenAPI: unresolved $ref %r", self.where, ref)
                    return {}
                target = target[part]
            obj = target
        return obj

    def schema_ref(self, schema: Any) -> str | None:
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            prefix = "#/components/schemas/"
            if ref.startswith(prefix):
                name = ref[len(prefix) :]
                if name not in self.schemas:
                    log.warning("%s: OpenAPI: unresolved $ref %r", self.where, ref)
                return name
        return None

    # -- types ------------------------------------------------------------------------------

    def type_of(self, schema: Any) -> str:
        """A short, readable type: ``string (date-time)``, ``array of [Clock](#…)``, ..."""
        if schema is True or schema == {}:
            return "any"
        if not isinstance(schema, dict):
            return "any"
        name = self.schema_ref(schema)
        if name is not None:
            return f"[{name}](#{_slug(name)})"
        if "$ref" in schema:
            return self.type_of(self.resolve(schema))
        if "allOf" in schema:
            parts = [
                "more fields"
                if isinstance(s, dict) and "$ref" not in s and s.get("properties")
                else self.type_of(s)
                for s in schema["allOf"]
            ]
            return " + ".join(parts)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return " or ".join(self.type_of(s) for s in schema[key])
        if "const" in schema:
            return f"constant {_code(schema['const'])}"
        types = schema.get("type")
        if types is None:
            types = ["object"] if "properties" in schema else []
        if isinstance(types, str):
            types = [types]
        if schema.get("nullable") is True and "null" not in types:
            types = [*types, "null"]
        parts = []
        for kind in types:
            if kind == "array":
                items = schema.get("items")
                parts.append(f"array of {self.type_of(items)}" if items else "array")
            elif kind == "object":
                extra = schema.get("additionalProperties")
                if isinstance(extra, dict) and not schema.get("properties"):
                    parts.append(f"map of string to {self.type_of(extra)}")
                else:
                    parts.append("object")
            else:
                fmt = schema.get("format")
                parts.append(f"{kind} ({fmt})" if fmt else kind)
        return " or ".join(parts) if parts else "any"

    def notes(self, schema: Any) -> list[str]:
        """Description, then constraints: enum, default, limits, examples."""
        schema = schema if isinstance(schema, dict) else {}
        if self.schema_ref(schema) is not None:
            return []
        out = []
        if schema.get("description"):
            out.append(_cell(schema["description"]))
        if "enum" in schema:
            out.append("One of: " + ", ".join(_code(v) for v in schema["enum"]) + ".")
        if "default" in schema:
            out.append(f"Default: {_code(schema['default'])}.")
        for key, label in (
            ("minimum", "Minimum"),
            ("exclusiveMinimum", "Greater than"),
            ("maximum", "Maximum"),
            ("exclusiveMaximum", "Less than"),
            ("minLength", "Minimum length"),
            ("maxLength", "Maximum length"),
            ("minItems", "Minimum items"),
            ("maxItems", "Maximum items"),
            ("pattern", "Pattern"),
        ):
            if key in schema and not isinstance(schema[key], bool):
                out.append(f"{label}: {_code(schema[key])}.")
        examples = schema.get("examples")
        if isinstance(examples, list) and examples:
            out.append("Examples: " + ", ".join(_code(v) for v in examples) + ".")
        elif "example" in schema:
            out.append(f"Example: {_code(schema['example'])}.")
        if schema.get("deprecated"):
            out.append("**Deprecated.**")
        if schema.get("readOnly"):
            out.append("Read-only.")
        if schema.get("writeOnly"):
            out.append("Write-only.")
        return out

    # -- object tables ----------------------------------------------------------------------

    def properties(self, schema: Any) -> tuple[list[tuple[str, Any]], set[str]]:
        """The properties of an (inline) object schema, merging ``allOf`` parts in order."""
        schema = self.resolve(schema) if isinstance(schema, dict) else {}
        props: list[tuple[str, Any]] = []
        required: set[str] = set(schema.get("required") or [])
        for part in schema.get("allOf") or []:
            sub_props, sub_req = self.properties(part)
            props.extend(sub_props)
            required |= sub_req
        props.extend((schema.get("properties") or {}).items())
        return props, required

    def rows(self, schema: Any, prefix: str = "", depth: int = 0) -> list[str]:
        props, required = self.properties(schema)
        out = []
        for name, prop in props:
            prop = prop if isinstance(prop, dict) else {}
            full = f"{prefix}{name}"
            notes = self.notes(prop)
            out.append(
                f"| `{full}` | {self.type_of(prop)} | {'yes' if name in required else ''} "
                f"| {' '.join(notes)} |"
            )
            if depth >= _MAX_DEPTH or self.schema_ref(prop) is not None:
                continue
            if prop.get("properties"):
                out.extend(self.rows(prop, f"{full}.", depth + 1))
            items = prop.get("items")
            if (
                isinstance(items, dict)
                and self.schema_ref(items) is None
                and items.get("properties")
            ):
                out.extend(self.rows(items, f"{full}[].", depth + 1))
        return out

    def table(self, schema: Any) -> list[str]:
        rows = self.rows(schema)
        if not rows:
            return []
        return ["| field | type | required | description |", "|---|---|---|---|", *rows, ""]

    def body(self, schema: Any, *, with_notes: bool = True) -> list[str]:
        """How a request or response body is shown: a type line, then its fields if inline."""
        if not isinstance(schema, dict):
            return []
        out = []
        ref = self.schema_ref(schema)
        parts = schema.get("allOf") or []
        inline_obj = bool(schema.get("properties")) or any(
            isinstance(p, dict) and self.schema_ref(p) is None for p in parts
        )
        if ref is not None:
            out += [f"Schema: [{ref}](#{_slug(ref)}).", ""]
        elif parts and inline_obj:
            refs = [self.schema_ref(p) for p in parts if self.schema_ref(p) is not None]
            if refs:
                linked = ", ".join(f"[{r}](#{_slug(r)})" for r in refs)
                out += [f"Every field of {linked}, and:", ""]
        elif not inline_obj:
            out += [f"Schema: {self.type_of(schema)}.", ""]
        notes = self.notes(schema) if ref is None and with_notes else []
        if notes:
            out += [" ".join(notes), ""]
        if inline_obj:
            if parts:
                only_inline = {
                    "allOf": [p for p in parts if self.schema_ref(p) is None],
                    "properties": schema.get("properties") or {},
                    "required": schema.get("required") or [],
                }
                out += self.table(only_inline)
            else:
                out += self.table(schema)
        return out

    def examples(self, media: dict[str, Any]) -> list[str]:
        found: list[tuple[str, Any]] = []
        if "example" in media:
            found.append(("Example", media["example"]))
        for name, example in (media.get("examples") or {}).items():
            example = self.resolve(example)
            if isinstance(example, dict) and "value" in example:
                found.append((example.get("summary") or name, example["value"]))
        out = []
        for title, value in found:
            text = value if isinstance(value, str) else json.dumps(value, indent=2)
            lang = "text" if isinstance(value, str) else "json"
            fence = "````" if "```" in text else "```"
            out += [f'{fence}{lang} title="{_cell(title)}"', text, fence, ""]
        return out

    # -- page -------------------------------------------------------------------------------

    def render(self) -> str:
        spec = self.spec
        info = spec.get("info") or {}
        out: list[str] = []
        version = f", version {_code(info['version'])}" if info.get("version") else ""
        title = info.get("title") or "API"
        out += [f"**{_cell(title)}**{version} (OpenAPI {_code(spec.get('openapi', '?'))}).", ""]
        if info.get("description"):
            out += [str(info["description"]).strip(), ""]
        servers = spec.get("servers") or []
        if servers:
            out += ["Servers: " + ", ".join(self.server(s) for s in servers) + ".", ""]

        operations = self.operations()
        tags = self.tag_order(operations)
        grouped = len(tags) > 1 or (tags and tags[0] is not None)
        if operations:
            out += ["| method | path | summary |", "|---|---|---|"]
            for method, path, op, _ in operations:
                anchor = self.op_anchor(method, path)
                out.append(
                    f"| [{method.upper()}](#{anchor}) | `{path}` | {_cell(op.get('summary', ''))} |"
                )
            out.append("")
        for tag in tags:
            if grouped:
                out += [f"## {tag or 'Other operations'}", ""]
                described = self.tag_description(tag)
                if described:
                    out += [described, ""]
            else:
                out += ["## Operations", ""]
            for method, path, op, params in operations:
                if (op.get("tags") or [None])[0] == tag:
                    out += self.operation(method, path, op, params, "###")
        if self.schemas:
            out += ["## Schemas", ""]
            for name, schema in self.schemas.items():
                out += self.schema_section(name, schema)
        security = (spec.get("components") or {}).get("securitySchemes") or {}
        if security:
            out += ["## Security schemes", "", "| name | type | details |", "|---|---|---|"]
            for name, scheme in security.items():
                scheme = self.resolve(scheme)
                details = ", ".join(
                    f"{k}: {_code(v)}"
                    for k, v in scheme.items()
                    if k not in ("type", "description") and not isinstance(v, dict)
                )
                desc = _cell(scheme.get("description", ""))
                out.append(f"| `{name}` | {scheme.get('type', '')} | {details} {desc} |")
            out.append("")
        return "\n".join(out) + "\n"

    def server(self, server: Any) -> str:
        url = server.get("url", "") if isinstance(server, dict) else str(server)
        desc = server.get("description") if isinstance(server, dict) else None
        return _code(url) + (f" ({_cell(desc)})" if desc else "")

    def operations(self) -> list[tuple[str, str, dict[str, Any], list[Any]]]:
        found = []
        for path, item in (self.spec.get("paths") or {}).items():
            item = self.resolve(item) if isinstance(item, dict) else {}
            shared = item.get("parameters") or []
            for method in _METHODS:
                op = item.get(method)
                if isinstance(op, dict):
                    found.append((method, path, op, [*shared, *(op.get("parameters") or [])]))
        return found

    def tag_order(self, operations: list[Any]) -> list[str | None]:
        declared = [t.get("name") for t in self.spec.get("tags") or [] if isinstance(t, dict)]
        used: list[str | None] = []
        for _, _, op, _ in operations:
            tag = (op.get("tags") or [None])[0]
            if tag not in used:
                used.append(tag)
        ordered: list[str | None] = [t for t in declared if t in used]
        return ordered + [t for t in used if t not in ordered]

    def tag_description(self, tag: str | None) -> str:
        for t in self.spec.get("tags") or []:
            if isinstance(t, dict) and t.get("name") == tag:
                return str(t.get("description") or "").strip()
        return ""

    @staticmethod
    def op_anchor(method: str, path: str) -> str:
        return "op-" + method + "-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")

    def operation(
        self, method: str, path: str, op: dict[str, Any], params: list[Any], level: str
    ) -> list[str]:
        anchor = self.op_anchor(method, path)
        badge = f'<span class="oa-method oa-{method}">{method.upper()}</span>'
        out = [
            f"{level} {badge} `{path}` {{#{anchor} data-toc-label='{method.upper()} {path}'}}",
            "",
        ]
        if op.get("deprecated"):
            out += ['!!! warning "Deprecated"', ""]
        if op.get("summary"):
            out += [f"**{_cell(op['summary'])}**", ""]
        if op.get("description"):
            out += [str(op["description"]).strip(), ""]

        params = [self.resolve(p) for p in params if isinstance(p, dict)]
        if params:
            out += [
                "**Parameters**",
                "",
                "| name | in | type | required | description |",
                "|---|---|---|---|---|",
            ]
            for p in params:
                schema = p.get("schema") or {}
                notes = [_cell(p["description"])] if p.get("description") else []
                notes += self.notes(schema)
                out.append(
                    f"| `{p.get('name', '?')}` | {p.get('in', '')} | {self.type_of(schema)} "
                    f"| {'yes' if p.get('required') else ''} | {' '.join(notes)} |"
                )
            out.append("")

        body = self.resolve(op.get("requestBody")) if op.get("requestBody") else None
        if isinstance(body, dict):
            required = "required" if body.get("required") else "optional"
            for media_type, media in (body.get("content") or {}).items():
                media = media or {}
                out += [f"**Request body** ({_code(media_type)}, {required})", ""]
                if body.get("description"):
                    out += [_cell(body["description"]), ""]
                out += self.body(media.get("schema"))
                out += self.examples(media)

        responses = op.get("responses") or {}
        if responses:
            out += ["**Responses**", "", "| status | description | body |", "|---|---|---|"]
            details: list[str] = []
            for status, response in responses.items():
                response = self.resolve(response) if isinstance(response, dict) else {}
                content = response.get("content") or {}
                bodies = []
                for media_type, media in content.items():
                    media = media or {}
                    schema = media.get("schema")
                    bodies.append(
                        f"{_code(media_type)}: {self.type_of(schema)}"
                        if schema
                        else _code(media_type)
                    )
                    shown = self.body(schema) if isinstance(schema, dict) else []
                    if shown and not (len(shown) == 2 and shown[0].startswith("Schema: ")):
                        details += [f"**Response {status}** ({_code(media_type)})", "", *shown]
                    details += self.examples(media)
                out.append(
                    f"| `{status}` | {_cell(response.get('description', ''))} | {'<br>'.join(bodies)} |"
                )
            out.append("")
            out += details
        return out

    def schema_section(self, name: str, schema: Any) -> list[str]:
        schema = schema if isinstance(schema, dict) else {}
        out = [f"### {name} {{#{_slug(name)}}}", ""]
        notes = self.notes(schema)
        if notes:
            out += [" ".join(notes), ""]
        props, _ = self.properties(schema)
        if props or schema.get("allOf"):
            out += self.body(schema, with_notes=False)
        else:
            out += [f"Type: {self.type_of(schema)}.", ""]
        return out
