#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Table tests of the test API server's patch, schema, selector and store code.
. "$(dirname "$0")/lib.sh"
python3 "$SKEIN_ROOT/tests/apiserver/test_units.py"
