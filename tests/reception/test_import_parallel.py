"""The same imports with the file parsed in a child process (`parsers.pipeline`).

Large files are parsed aside while the import writes; here every file is, so that the
child's path gives the same calls, counts, refusals and failures as the plain one.
"""

from __future__ import annotations

import marshal
import multiprocessing
import pickle
from decimal import Decimal

import pytest

from qualicite.reception import services
from qualicite.reception.models import ImportStatus
from qualicite.reception.parsers import pipeline
from tests.reception.test_import_calls import (  # noqa: F401 - run again here, in a child
    days_changed,
    generated,
    run,
    test_a_call_open_at_the_end_of_a_file_is_completed_by_the_next,
    test_a_csv_without_a_valid_mapping_is_refused,
    test_a_file_of_another_format_is_refused,
    test_a_file_with_too_many_bad_lines_is_refused_and_leaves_nothing,
    test_a_generated_queue_log_is_imported_call_by_call,
    test_a_row_written_as_incomplete_is_completed_by_a_later_file,
    test_a_sub_second_time_is_stored_as_django_stores_it,
    test_a_wazo_export_gives_the_same_calls_as_the_asterisk_file,
    test_an_asterisk_cdr_file_is_imported,
    test_an_empty_file_is_refused,
    test_an_error_half_way_fails_the_import_and_imports_nothing,
    test_any_csv_export_is_imported_through_its_column_mapping,
    test_bad_lines_are_reported_with_their_number_and_the_rest_is_imported,
    test_calls_are_written_in_many_batches_without_losing_one,
    test_importing_a_file_again_changes_nothing,
    test_overlapping_files_never_count_a_call_twice,
    test_progress_is_reported_as_the_file_is_read,
    test_queues_take_their_mapping_and_new_queues_are_listed_unmapped,
)


@pytest.fixture(autouse=True)
def every_file_in_a_child(monkeypatch):
    monkeypatch.setattr(services, "PARALLEL_MIN_BYTES", 0)


def test_the_file_is_really_parsed_in_a_child_process(org, monkeypatch):
    monkeypatch.setattr(services, "PROGRESS_LINES", 1000)
    children = []
    call_import = run(
        org,
        generated(days=60),
        progress=lambda done, lines: children.append(len(multiprocessing.active_children())),
    )
    assert call_import.status == ImportStatus.DONE
    assert max(children) == 1
    assert multiprocessing.active_children() == []


def test_no_child_is_used_when_the_setting_says_so(org, settings, monkeypatch):
    settings.QUALICITE_CALL_IMPORT_PARALLEL = False
    children = []
    run(
        org,
        generated(days=5),
        progress=lambda done, lines: children.append(len(multiprocessing.active_children())),
    )
    assert set(children) == {0}


def test_a_batch_marshal_cannot_write_travels_pickled():
    plain = pipeline._calls([("1.1", "accueil", 1736150400)], 10, 4)
    assert plain[:1] == pipeline.CALLS
    assert marshal.loads(plain[1:]) == ([("1.1", "accueil", 1736150400)], 10, 4)
    odd = pipeline._calls([("1.1", "accueil", Decimal("1736150400.5"))], 10, 4)
    assert odd[:1] == pipeline.PICKLED
    assert pickle.loads(odd[1:]) == ("calls", [("1.1", "accueil", Decimal("1736150400.5"))], 10, 4)
