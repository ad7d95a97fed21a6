#!/bin/sh
# JSON library comparison (see bench/json_libs.c, docs/json.md).
exec build/bench/json_libs
