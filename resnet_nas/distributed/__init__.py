"""Distributed search: several workers (on one or many machines) share one study.

    python -m resnet_nas search SPACE --storage URL --create-only     # once: creates the study
    python -m resnet_nas worker --study NAME --storage URL --gpus 0,1  # on every machine
    python -m resnet_nas collect --study NAME --storage URL --run-dir DIR   # the whole table

The study carries what a worker needs (user attributes written by `search`: the space file's
text, its hash and the run's metadata), so a worker needs only the study name and the storage
URL. Each worker writes its finished trials as rows in its own run directory; the storage keeps
every trial's record too, and `collect` rebuilds the whole study's table from it.

Modules: `heartbeat` (Optuna's heartbeat interface for the journal), `postgres_journal` (the
journal's log in a PostgreSQL table), `stale` (stale
trials: failed by Optuna's fail_stale_trials, retried by its RetryHeartbeatStaleTrialCallback;
what counts towards the target), `claims` (no architecture trained twice), `control` (the
workers' trial loop policy), `collect` (the table from the storage), `worker` (one worker) and
`fanout` (one worker process per GPU).
"""
