"""What every process sharing one Optuna study relies on (a search, distributed workers,
benchmark builds): below the engines, so that the engines and the benchmark need nothing of
resnet_nas.distributed.

Modules: `claims` (no architecture trained twice), `stale` (stale trials: failed by Optuna's
fail_stale_trials, retried by its RetryHeartbeatStaleTrialCallback; what counts towards the
target) and `heartbeats_in_use` (the heartbeat settings of the processes sharing a study).
"""
