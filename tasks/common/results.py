"""The old import path of the run-folder helpers, kept for modules that other branches still edit
(resume.py). New code imports from run_record (the run folder), atomic_io and provenance."""
from tasks.common.atomic_io import atomic_write, atomic_write_text, write_json  # noqa: F401
from tasks.common.provenance import git_commit, library_versions  # noqa: F401
from tasks.common.run_record import (CONFIG, METRICS, STATUSES, SUMMARY, best_and_final, read_metrics,  # noqa: F401
                                     read_summary, update_summary, write_config)
