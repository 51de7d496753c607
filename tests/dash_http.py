"""Drive Dash callbacks over HTTP the way the browser does (POST /_dash-update-component)."""
from __future__ import annotations

import json


def dependencies(client) -> list[dict]:
    response = client.get("/_dash-dependencies")
    assert response.status_code == 200
    return response.get_json()


def find(deps: list[dict], output_fragment: str) -> dict:
    matches = [d for d in deps if output_fragment in d["output"]]
    assert matches, f"no callback with output {output_fragment!r}"
    return matches[0]


def _outputs(dep: dict):
    parts = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
    outputs = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        outputs.append({"id": ident, "property": prop})
    return outputs


def outputs_field(dep: dict):
    """The request's "outputs" as the renderer sends it: a list for multi-output callbacks, one
    object otherwise."""
    outputs = _outputs(dep)
    return outputs if len(outputs) > 1 or dep["output"].startswith("..") else outputs[0]


def call(client, dep: dict, inputs: list, state: list | None = None):
    """POST one callback with the given input (and state) values; returns (status, json)."""
    payload = {
        "output": dep["output"],
        "outputs": outputs_field(dep),
        "inputs": [{"id": i["id"], "property": i["property"], "value": v} for i, v in zip(dep["inputs"], inputs, strict=False)],
        "state": [{"id": s["id"], "property": s["property"], "value": v}
                  for s, v in zip(dep.get("state", []), state or [], strict=False)],
        "changedPropIds": [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"] if dep["inputs"] else [],
    }
    response = client.post("/_dash-update-component", data=json.dumps(payload),
                           content_type="application/json")
    body = response.get_json(silent=True) if response.status_code == 200 else None
    return response.status_code, body, response.get_data(as_text=True)


def route(client, pathname: str, search: str = ""):
    """Render a page the way Dash's router does; returns (status, text of the response)."""
    deps = dependencies(client)
    router = find(deps, "_pages_content.children")
    values = {"pathname": pathname, "search": search}
    status, _body, text = call(client, router, [values.get(i["property"]) for i in router["inputs"]])
    return status, text
