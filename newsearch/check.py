"""Verifying an index: every byte of its files, and what it holds against the source files.

``newsearch check`` is what to run when an index misbehaves or before trusting
a copy of one.  It reads the whole index (each segment's file list, every
term, every posting list, every stored article and text) and reports what
cannot be read; then it compares the fingerprints stored with the articles
(``size:mtime:hash``) with the files on disk, and, given folders, looks for
files the index does not have.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import IndexDamagedError
from .ingest import file_digest, iter_source_files
from .results import CheckReport
from .fields import DUP_SKETCH, NBODY, NTITLE, PATH, SOURCE, fingerprint_digest, same_stat
from .store import Generation
from .sketchcolumn import SketchColumn
from .textcolumn import TextColumn

__all__ = ["check_index"]


def check_index(ix: Generation, paths: Iterable[str | Path] = ()) -> CheckReport:
    """Check the generation ``ix`` (opened by the caller) and compare it with the
    source files; ``paths`` are folders or files that should all be indexed."""
    report = CheckReport(path=ix.folder)
    try:
        toc = ix.toc()
    except IndexDamagedError as exc:  # reported, not raised
        report.damage.extend(exc.problems)
        return report
    fingerprints: dict[str, bytes] = {}
    for segment in toc.segments:
        name = segment.segment_id()
        try:
            reader = ix.segment_reader(toc, segment)
        except IndexDamagedError as exc:
            report.damage.extend(f"segment {name}: {p}" for p in exc.problems)
            continue
        except Exception as exc:  # noqa: BLE001
            report.damage.append(f"segment {name}: cannot be opened ({type(exc).__name__}: {exc})")
            continue
        try:
            report.articles += _read_everything(reader, fingerprints)
            report.segments += 1
        except Exception as exc:  # noqa: BLE001
            report.damage.append(f"segment {name}: cannot be read ({type(exc).__name__}: {exc})")
        finally:
            reader.close()
    _compare_sources(fingerprints, [os.path.abspath(os.fspath(p)) for p in paths], report)
    return report


def _read_everything(reader: Any, fingerprints: dict[str, bytes]) -> int:
    """Decode every posting list, stored document and text of one segment reader."""
    reader._terms.verify()  # noqa: SLF001 - the codec's own terms reader
    columns = [reader.column_reader(name, translate=False) for name in (NTITLE, NBODY)]
    for column in columns:
        if isinstance(column, TextColumn.Reader):
            column.verify()  # its values carry no checksum of their own
    if reader.has_column(DUP_SKETCH):
        sketches = reader.column_reader(DUP_SKETCH, translate=False)
        if isinstance(sketches, SketchColumn.Reader):
            sketches.verify()
    paths, sources = reader.column_reader(PATH), reader.column_reader(SOURCE)
    live = 0
    for docnum in range(reader.doc_count_all()):
        reader.stored_fields(docnum)
        for column in columns:
            column[docnum].decode("utf-8")
        if not reader.is_deleted(docnum):
            fingerprints[paths[docnum]] = sources[docnum]
            live += 1
    return live


def _compare_sources(fingerprints: dict[str, bytes], roots: list[str], report: CheckReport) -> None:
    for path, source in sorted(fingerprints.items()):
        try:
            st = os.stat(path)
        except OSError:
            report.missing.append(path)
            continue
        if same_stat(source, st.st_size, st.st_mtime_ns):
            report.up_to_date += 1
            continue
        try:
            same = file_digest(path) == fingerprint_digest(source)
        except Exception:  # noqa: BLE001 - unreadable now: it differs from what was indexed
            same = False
        if same:
            report.up_to_date += 1
        else:
            report.changed.append(path)
    if roots:
        for file in iter_source_files(roots):
            path = os.path.abspath(file)
            if path not in fingerprints:
                report.not_indexed.append(path)
