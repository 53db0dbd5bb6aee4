"""Row-level comparison of two pulls of a day, and the sink's byte counts and hashes (pure)."""

from __future__ import annotations

import gzip
import hashlib
import io

import pytest

from airflow_provider_ozonetel import records
from airflow_provider_ozonetel.rowdiff import Changes, RowIndex, compare, index_file
from airflow_provider_ozonetel.sink import AtomicRowSink
from tests.answers import cdr_record


def index(rows: dict) -> RowIndex:
    built = RowIndex()
    for key, content in rows.items():
        built.add(key, content.encode())
    return built


def test_compare_counts_added_changed_removed_by_ucid():
    old = index({"31733467784618299": "a", "31733467784618300": "b", "31733467784618301": "c"})
    new = index({"31733467784618300": "b", "31733467784618301": "C", "31733467784618302": "d"})
    assert compare(old, new) == Changes(added=1, changed=1, removed=1)
    assert not compare(old, old) and compare(old, new)
    assert compare(RowIndex(), new).as_dict() == {"added": 3, "changed": 0, "removed": 0}


def test_int_and_text_ucids_are_the_same_key_and_odd_keys_still_compare():
    old, new = RowIndex(), RowIndex()
    old.add(31733467784618299, b"a")  # the vendor's number
    new.add("31733467784618299", b"a")  # the typed row's string
    old.add("x-1", b"odd")
    new.add("x-1", b"odd!")
    old.add("007", b"leading zero")  # not a canonical number: kept as text
    new.add("007", b"leading zero")
    assert compare(old, new) == Changes(changed=1)


def sink_to(tmp_path, rows, *, file_format, compression, normalize=True):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    written = RowIndex()
    path = ObjectStoragePath(f"file://{tmp_path}/day")
    sink = AtomicRowSink(
        path,
        file_format=file_format,
        compression=compression,
        csv_columns=records.CSV_COLUMNS if normalize else None,
        on_row=written.add_row,
    )
    with sink:
        sink.write_all(iter(rows))
    return sink, (tmp_path / "day").read_bytes(), written


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
@pytest.mark.parametrize("compression", [None, "gzip"])
@pytest.mark.parametrize("normalize", [True, False])
def test_a_file_read_back_indexes_as_its_rows_were_written(tmp_path, file_format, compression, normalize):
    rows = [cdr_record(i, Comments='a, "quoted"\nline') for i in range(5)]
    rows.append(cdr_record(9, BrandNewField={"nested": [1, 2]}))
    if normalize:
        rows = [records.normalize_cdr(r) for r in rows]
    sink, data, written = sink_to(
        tmp_path, rows, file_format=file_format, compression=compression, normalize=normalize
    )

    # The sink counted and hashed the stored bytes as it wrote them.
    assert (sink.bytes, sink.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    read_back = index_file(io.BytesIO(data), file_format, compression)
    assert read_back.rows == written.rows == 6
    assert compare(read_back, written) == Changes()
    changed = [dict(r) for r in rows]
    key = "comments" if normalize else "Comments"
    changed[2][key] = "later wrap-up"
    _, _, rewritten = sink_to(
        tmp_path, changed, file_format=file_format, compression=compression, normalize=normalize
    )
    assert compare(read_back, rewritten) == Changes(changed=1)


def test_gzip_output_is_the_same_bytes_for_the_same_rows(tmp_path):
    rows = [records.normalize_cdr(cdr_record(i)) for i in range(3)]
    first = sink_to(tmp_path / "a", rows, file_format="jsonl", compression="gzip")[1]
    second = sink_to(tmp_path / "b", rows, file_format="jsonl", compression="gzip")[1]
    assert first == second  # no file name or time in the gzip header
    assert gzip.decompress(first).count(b"\n") == 3


def test_commit_on_exit_false_lets_the_caller_keep_the_old_file(tmp_path):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    (tmp_path / "day").write_text("old\n")
    sink = AtomicRowSink(ObjectStoragePath(f"file://{tmp_path}/day"), commit_on_exit=False)
    with sink:
        sink.write({"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".day." + sink.temporary.name.split(".")[2] + ".tmp",
        "day",
    ]
    sink.discard()
    assert [p.name for p in tmp_path.iterdir()] == ["day"] and (tmp_path / "day").read_text() == "old\n"
