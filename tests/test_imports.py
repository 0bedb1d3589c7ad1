"""The search process never imports a Keras backend: it samples, checks, counts and records;
only trial processes train. (One fresh interpreter runs every part of that path.)"""

from tests.helpers import imported_backends


def test_the_search_path_imports_no_backend():
    code = """
import optuna
from resnet_nas import cli, engines, results, records, run
from resnet_nas.engines import optuna_engine, optuna_study
from resnet_nas.distributed import worker, fanout, collect
from resnet_nas.config import DataConfig
from resnet_nas.data import load_dataset
from resnet_nas.nets import complexity
from resnet_nas.space import load_space, sample_architecture, check_constraints
import resnet_nas.train, resnet_nas.train.recipes, resnet_nas.trial_process
s = load_space('anynet')
a = sample_architecture(s, optuna.create_study().ask(), input_shape=(32, 32, 3), num_classes=10)
check_constraints(a, s)
complexity(a)
load_dataset(DataConfig(name='synthetic'))
cli.build_parser()
"""
    assert imported_backends(code) == []
