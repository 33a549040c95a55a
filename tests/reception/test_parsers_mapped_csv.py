"""Any phone system's CSV export through a YAML column mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qualicite.reception.parsers import MappingError, Outcome, load_mapping, parse

FRENCH_MAPPING = """
delimiter: ";"
encoding: cp1252
time_format: "%d/%m/%Y %H:%M:%S"
timezone: Europe/Paris
columns:
  call_id: Identifiant
  queue: File d'attente
  entered_at: Arrivée
  wait_seconds: Attente
  talk_seconds: Durée
  agent: Agent
  outcome: Statut
  caller: Appelant
outcomes:
  Répondu: answered
  Abandonné: abandoned
  Dissuadé: timeout
"""

FRENCH_EXPORT = (
    "Identifiant;File d'attente;Arrivée;Attente;Durée;Agent;Statut;Appelant\r\n"
    "A1;Accueil;06/01/2025 09:00:00;00:25;0:03:10;Émilie;Répondu;0612345678\r\n"
    "A2;État civil;06/01/2025 09:01:00;48;;;abandonné;0145678910\r\n"
    "A3;Accueil;06/01/2025 09:02:00;180;;;DISSUADÉ ;\r\n"
)


def read(text: str | bytes, mapping, **options):
    data = text.encode("utf-8") if isinstance(text, str) else text
    result = parse(data, "csv", mapping=mapping, **options)
    return result.all(), result.report


def test_a_mapping_reads_a_french_spreadsheet_export():
    calls, report = read(FRENCH_EXPORT.encode("cp1252"), FRENCH_MAPPING)
    assert report.rejected_count == 0 and report.importable
    assert report.ignored_lines == 1  # the header
    first, second, third = calls
    assert (first.call_id, first.queue, first.agent) == ("A1", "Accueil", "Émilie")
    assert first.entered_at == datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    assert (first.outcome, first.wait_seconds, first.talk_seconds) == ("answered", 25, 190)
    assert first.ended_at == datetime(2025, 1, 6, 8, 3, 35, tzinfo=UTC)
    assert (second.queue, second.outcome, second.wait_seconds) == ("État civil", "abandoned", 48)
    assert second.talk_seconds is None and second.caller == "0145678910"
    assert (third.outcome, third.wait_seconds) == (Outcome.TIMEOUT, 180)


def test_the_wait_comes_from_the_answer_time_without_a_wait_column():
    mapping = {
        "queue": "accueil",
        "columns": {"entered_at": "start", "answered_at": "answer", "ended_at": "end"},
    }
    calls, report = read(
        "start,answer,end\n"
        "2025-01-06T09:00:00Z,2025-01-06T09:00:12Z,2025-01-06T09:05:12Z\n"
        "2025-01-06T09:10:00+01:00,,2025-01-06T09:10:40+01:00\n",
        mapping,
    )
    assert [(c.queue, c.outcome, c.wait_seconds, c.talk_seconds) for c in calls] == [
        ("accueil", "answered", 12, 300),
        ("accueil", "abandoned", 40, None),
    ]
    assert calls[1].entered_at == datetime(2025, 1, 6, 8, 10, tzinfo=UTC)


def test_columns_by_number_without_a_header_and_epoch_times():
    mapping = {
        "header": False,
        "time_format": "epoch",
        "columns": {"queue": 2, "entered_at": 1, "wait_seconds": 3, "agent": 4},
    }
    calls, report = read("1736150400|urbanisme|7|PJSIP/221\n1736150500|urbanisme|30|\n", mapping)
    assert [(c.outcome, c.wait_seconds, c.agent) for c in calls] == [
        ("answered", 7, "PJSIP/221"),
        ("abandoned", 30, ""),
    ]
    assert report.ignored_lines == 0


def test_the_entry_time_can_join_a_date_and_a_time_column():
    mapping = {
        "time_format": "%d/%m/%Y %H:%M",
        "columns": {
            "queue": "File",
            "entered_at": ["Date", "Heure"],
            "wait_seconds": "Attente",
        },
    }
    calls, _ = read("Date,Heure,File,Attente\n06/01/2025,09:15,accueil,12\n", mapping)
    assert calls[0].entered_at == datetime(2025, 1, 6, 9, 15, tzinfo=UTC)


def test_rows_without_a_call_id_get_a_stable_one():
    mapping = {"queue": "q", "columns": {"entered_at": "at", "wait_seconds": "wait"}}
    text = "at,wait\n2025-01-06 09:00:00,5\n2025-01-06 09:00:00,6\n"
    first, _ = read(text, mapping)
    again, _ = read(text, mapping)
    assert [c.call_id for c in first] == [c.call_id for c in again]
    assert len({c.call_id for c in first}) == 2


def test_bad_rows_are_rejected_with_their_reason():
    mapping = load_mapping(FRENCH_MAPPING)
    export = FRENCH_EXPORT + (
        "A4;Accueil;06/01/2025 09:03:00;beaucoup;;;Répondu;\r\n"
        "A5;Accueil;32/01/2025 09:03:00;1;;;Répondu;\r\n"
        "A6;Accueil;06/01/2025 09:04:00;1;;;Raccroché;\r\n"
        "A7;Accueil\r\n"
        "A1;Accueil;06/01/2025 09:00:00;00:25;0:03:10;Émilie;Répondu;0612345678\r\n"
    )
    calls, report = read(export.encode("cp1252"), mapping, max_bad_share=0.9)
    assert [c.call_id for c in calls] == ["A1", "A2", "A3"]
    assert [(p.line, p.code) for p in report.rejected] == [
        (5, "bad_number"),
        (6, "bad_timestamp"),
        (7, "unknown_outcome"),
        (8, "too_few_fields"),
    ]
    assert report.duplicates == 1


def test_a_line_that_cannot_be_decoded_is_rejected_alone():
    mapping = {"queue": "q", "columns": {"entered_at": "at", "wait_seconds": "wait"}}
    data = b"at,wait\n2025-01-06 09:00:00,5\n\xff\xfe,1\n2025-01-06 09:01:00,6\n"
    calls, report = read(data, mapping, max_bad_share=0.5)
    assert len(calls) == 2
    assert [(p.line, p.code) for p in report.rejected] == [(3, "not_decodable")]


def test_a_missing_column_is_a_clear_error():
    calls, report = read("Identifiant;File;Date\nA1;Accueil;06/01/2025\n", FRENCH_MAPPING)
    assert calls == []
    assert report.error.code == "missing_columns"
    assert "Arrivée" in report.error.message


def test_a_file_that_matches_nothing_is_refused():
    mapping = {"queue": "q", "header": False, "columns": {"entered_at": 1, "wait_seconds": 2}}
    calls, report = read("hello,world\n" * 60, mapping)
    assert calls == [] and report.error.code == "wrong_format"


def test_a_mapping_with_mistakes_lists_every_problem():
    with pytest.raises(MappingError) as error:
        load_mapping(
            """
            colums: {}
            header: perhaps
            time_format: dd/mm/yyyy
            timezone: Mars/Olympus
            encoding: klingon
            columns:
              outcome: Statut
              duration: Durée
            outcomes:
              OK: fine
            """
        )
    problems = "\n".join(error.value.problems)
    for expected in (
        "unknown key 'colums'",
        "header must be true or false",
        "time_format",
        "unknown time zone",
        "unknown encoding",
        "unknown field 'duration'",
        "columns.queue",
        "columns.entered_at is required",
        "wait_seconds",
        "'fine'",
    ):
        assert expected in problems


def test_a_mapping_that_is_not_yaml_is_refused():
    with pytest.raises(MappingError):
        load_mapping("columns: [unclosed")
    with pytest.raises(MappingError):
        load_mapping("- just\n- a list\n")


def test_the_csv_format_needs_a_mapping():
    with pytest.raises(ValueError):
        parse(b"", "csv")
