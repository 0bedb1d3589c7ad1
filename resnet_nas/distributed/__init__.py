"""Distributed search: several workers (on one or many machines) share one study.

    python -m resnet_nas search SPACE --storage URL --create-only     # once: creates the study
    python -m resnet_nas worker --study NAME --storage URL --gpus 0,1  # on every machine
    python -m resnet_nas collect --study NAME --storage URL --run-dir DIR   # the whole table

The study carries what a worker needs (user attributes written by `search`: the space file's
text, its hash and the run's metadata), so a worker needs only the study name and the storage
URL. Each worker writes its finished trials as rows in its own run directory; the storage keeps
every trial's record too, and `collect` rebuilds the whole study's table from it.

Modules: `control` (the workers' trial loop policy), `collect` (the table from the storage),
`worker` (one worker) and `fanout` (one worker process per GPU). What every process sharing a
study relies on (claims, stale trials, the heartbeat settings in use) is below the engines, in
resnet_nas.sharing; the journal storage's own pieces (heartbeats, the file and PostgreSQL
logs) are below the storage layer, in resnet_nas.journal.
"""
