"""Optuna's JournalStorage, as resnet_nas opens it (resnet_nas.storage): the pieces below the
storage layer, so that the storage needs nothing of resnet_nas.distributed.

Modules: `heartbeat` (Optuna's heartbeat interface for the journal, which has none of its own),
`file_backend` (the journal file, repaired after a cut-short write) and `postgres_backend` (the
journal's log in a PostgreSQL table).
"""
