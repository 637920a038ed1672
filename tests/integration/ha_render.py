#!/usr/bin/env python3
"""Renders Home Assistant MQTT templates the way Home Assistant does, for test_homeassistant.cpp.

Reads a JSON array on standard input; each item is
  {"template": "...", "payload": "..."}  a value_template (or json_attributes_template,
                                        last_reset_value_template) with the received payload:
                                        `value` is the payload, `value_json` its JSON
  {"template": "...", "value": "..."}    a command_template: `value` is what the entity sends
                                        (payload_on / payload_off, the number)
and prints a JSON array: {"out": "<rendered text>"} or {"error": "<why>"} per item.

Home Assistant renders in Jinja2's immutable sandbox with now() among its globals; an undefined
name here is an error (StrictUndefined), so a template that reads a key the payload lacks fails
instead of rendering an empty string.
"""
import datetime
import json
import sys

import jinja2
import jinja2.sandbox


def main():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    env.globals["now"] = lambda: datetime.datetime.now(datetime.timezone.utc)
    out = []
    for item in json.load(sys.stdin):
        variables = {}
        if "payload" in item:
            variables["value"] = item["payload"]
            try:
                variables["value_json"] = json.loads(item["payload"])
            except ValueError:
                pass
        else:
            variables["value"] = item["value"]
        try:
            out.append({"out": env.from_string(item["template"]).render(**variables).strip()})
        except Exception as e:  # noqa: BLE001 - every failure is the test's answer
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
