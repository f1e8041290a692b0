"""The golden comparison itself: floats within their column's tolerance pass, ids and skus must be
equal, and every difference names the file, line or key, and column."""

from __future__ import annotations

import json

from tests.golden.golden import compare_file


def write(folder, name, text):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)


def test_a_float_within_its_column_tolerance_is_equal(tmp_path):
    header = "timestamp,shopper,action,sku,quantity,shelf,plates,camera,frame,confidence\n"
    write(tmp_path / "want", "events.csv", header + "1700000006.700,1,pick,012002,1,B1,1,cam0,67,0.900\n")
    write(tmp_path / "got", "events.csv", header + "1700000006.705,1,pick,012002,1,B1,1,cam0,67,0.910\n")
    assert compare_file("events.csv", tmp_path / "want", tmp_path / "got") == []


def test_a_changed_sku_frame_or_row_count_is_named_by_line_and_column(tmp_path):
    header = "timestamp,shopper,action,sku,quantity,shelf,plates,camera,frame,confidence\n"
    row = "1700000006.700,1,pick,012002,1,B1,1,cam0,67,0.900\n"
    write(tmp_path / "want", "events.csv", header + row)
    write(tmp_path / "got", "events.csv", header + row.replace("012002", "012003").replace(",67,", ",68,") + row)
    assert compare_file("events.csv", tmp_path / "want", tmp_path / "got") == [
        "events.csv: 1 rows expected, 2 written",
        "events.csv line 2, column 'sku': expected '012002', got '012003'",
        "events.csv line 2, column 'frame': expected '67', got '68'",
        f"events.csv line 3: extra row {dict(zip(header.strip().split(','), row.strip().split(','), strict=True))}",
    ]


def test_json_differences_are_named_by_key_path(tmp_path):
    line = {"sku": "012001", "quantity": 1, "probability": 0.95, "timestamp": 1700000002.85}
    changed = {**line, "quantity": 2, "probability": 0.955}
    write(tmp_path / "want", "receipts.json", json.dumps({"shoppers": {"1": {"lines": [line]}}}))
    write(tmp_path / "got", "receipts.json", json.dumps({"shoppers": {"1": {"lines": [changed]}, "2": {}}}))
    assert compare_file("receipts.json", tmp_path / "want", tmp_path / "got") == [
        "receipts.json shoppers: extra key '2'",
        "receipts.json shoppers.1.lines[0].quantity: expected 1, got 2",
    ]
