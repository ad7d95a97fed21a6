#!/usr/bin/python3
"""Reads back the storage files of a Currents files connector, as a consumer
would: every .avro file with Apache's Python reader (python3-avro) AND with
avro-c's avrocat (avro-bin), which must agree record for record; every
.ndjson file line by line. Prints one JSON document on stdout:

  {"files": [{"path": <relative to ROOT>, "schema": <writer schema>,
              "records": [...]}...],       sorted by path
   "tmp": [<relative paths of *.tmp files>], "other": [<anything else>]}

With --tmp, also "pending": the records the .tmp files hold so far (read
with python3-avro only: exit 3 when one is caught mid-write).

Used by tests/unit/currents_files_test.c and tests/e2e/currents_files.test.js.
Usage: currents_files_read.py ROOT [--tmp]  (exit 1 with why on stderr on any mismatch)
"""
import json
import os
import subprocess
import sys

import avro.datafile
import avro.io


def unwrap(schema, value):
    """avrocat writes Avro's JSON encoding: a union's non-null value is
    {"<type>": v}; the Python reader gives v."""
    out = {}
    for f in schema["fields"]:
        v = value[f["name"]]
        if isinstance(f["type"], list) and v is not None:
            (v,) = v.values()
        out[f["name"]] = v
    return out


def read_python(path):
    with open(path, "rb") as fh:
        reader = avro.datafile.DataFileReader(fh, avro.io.DatumReader())
        schema = json.loads(reader.schema)
        codec = reader.get_meta("avro.codec")
        records = list(reader)
        reader.close()
    return schema, codec, records


def read_avro(path):
    schema, codec, records = read_python(path)
    if codec not in (None, b"null"):
        sys.exit(f"{path}: codec {codec!r}")
    cat = subprocess.run(["avrocat", path], capture_output=True, text=True)
    if cat.returncode != 0:
        sys.exit(f"{path}: avrocat failed: {cat.stderr}")
    catted = [unwrap(schema, json.loads(line)) for line in cat.stdout.splitlines() if line]
    if catted != records:
        sys.exit(f"{path}: avrocat and python3-avro disagree:\n{catted}\n{records}")
    return schema, records


def main():
    root = sys.argv[1]
    doc = {"files": [], "tmp": [], "other": []}
    if "--tmp" in sys.argv[2:]:
        doc["pending"] = []
    for d, _, names in os.walk(root):
        for name in names:
            path = os.path.join(d, name)
            rel = os.path.relpath(path, root)
            if name.endswith(".tmp"):
                doc["tmp"].append(rel)
                if "pending" in doc:
                    try:
                        if name.endswith(".avro.tmp"):
                            doc["pending"] += read_python(path)[2]
                        else:
                            with open(path, encoding="utf-8") as fh:
                                doc["pending"] += [json.loads(line) for line in fh.read().splitlines()]
                    except Exception:  # caught mid-write
                        sys.exit(3)
            elif name.endswith(".avro"):
                schema, records = read_avro(path)
                if not records:
                    sys.exit(f"{path}: no records")
                doc["files"].append({"path": rel, "schema": schema, "records": records})
            elif name.endswith(".ndjson"):
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
                if not text.endswith("\n"):
                    sys.exit(f"{path}: does not end with a newline")
                records = [json.loads(line) for line in text.splitlines()]
                doc["files"].append({"path": rel, "schema": None, "records": records})
            else:
                doc["other"].append(rel)
    for k in ("files", "tmp", "other"):
        doc[k].sort(key=lambda x: x["path"] if isinstance(x, dict) else x)
    json.dump(doc, sys.stdout)


main()
