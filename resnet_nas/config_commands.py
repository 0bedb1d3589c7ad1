"""The commands of architecture configs: `export` (a trial's config), `train --config` (a
retrain from scratch), `build --config` (a saved .keras model) and `configs` (a space's
architectures as configs, without training)."""

from __future__ import annotations

import json

from resnet_nas.cli_args import add_set_argument, int_from


def add_configs(sub) -> None:
    from resnet_nas.vocabulary import MAX_SEED
    from resnet_nas.generate import MAX_CONFIGS, ORDERS, SAMPLERS

    p = sub.add_parser("configs", help="write a space's architectures as configs (no "
                       "training): N distinct feasible samples, or --all")
    p.add_argument("space", help="search-space YAML file or shipped space name")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="new (or empty) folder for the configs and index.csv")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--count", type=int_from(1, MAX_CONFIGS), metavar="N",
                      help="distinct feasible architectures to sample")
    what.add_argument("--all", action="store_true",
                      help=f"every architecture of a finite space (at most {MAX_CONFIGS:,})")
    p.add_argument("--seed", type=int_from(0, MAX_SEED), default=0, help="sampler seed")
    p.add_argument("--sampler", choices=list(SAMPLERS), default="random",
                   help="random, or qmc (a scrambled Sobol sequence: numeric parameters "
                   "spread evenly)")
    p.add_argument("--order", choices=list(ORDERS), help="sort index.csv by params or FLOPs")
    p.add_argument("--data", metavar="PATH", help="the configs' data set instead of the "
                   "space's (image folders or TFRecord shards)")
    add_set_argument(p, "the space file")


def run_configs(args) -> int:
    from resnet_nas.generate import INDEX, GenerateOptions, generate_configs

    written = generate_configs(GenerateOptions(
        space=args.space, out=args.out, count=args.count, all=args.all, seed=args.seed,
        sampler=args.sampler, order=args.order, sets=tuple(args.set), data=args.data))
    print(f"wrote {len(written)} configs to {args.out} (index: {args.out}/{INDEX}); train one:"
          f" python -m resnet_nas train --config {args.out}/{written[0].file}")
    return 0


def add_export(sub) -> None:
    p = sub.add_parser("export", help="write a trial's architecture as a standalone YAML config")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--trial", default="best", help="trial number or 'best' (default)")
    p.add_argument("--out", help="output file (default RUN/exports/trial_<N>.yaml)")


def run_export(args) -> int:
    from resnet_nas.trial_export import export_config

    print(export_config(args.run, args.trial, args.out))
    return 0


def add_train(sub) -> None:
    from resnet_nas.vocabulary import BACKENDS, MAX_EPOCHS

    p = sub.add_parser("train", help="retrain an exported config from scratch; evaluate on test")
    p.add_argument("--config", required=True)
    p.add_argument("--epochs", type=int_from(1, MAX_EPOCHS))
    p.add_argument("--backend", choices=list(BACKENDS))
    p.add_argument("--data", metavar="PATH", help="image folders (directory or tar archive) or "
                   "TFRecord shards instead of the config's")
    p.add_argument("--save", metavar="MODEL.keras", help="save the trained model")
    add_set_argument(p, "the config (e.g. --set data.limit_train=null --set "
                     "train.batch_size=256 for a final retrain on all the data)")
    add_allow_large(p)


def add_allow_large(p) -> None:
    p.add_argument("--allow-large", action="store_true",
                   help="a model past the size limits (500M parameters, 1 TMAC per example, "
                   "1,000 units, 4 GiB of activations per training example) is refused "
                   "before it is built, unless this is given")


def run_train(args) -> int:
    from resnet_nas.retrain import train_config

    summary = train_config(args.config, args.epochs, args.save, args.backend, args.data,
                           sets=tuple(args.set), allow_large=args.allow_large)
    print(json.dumps(summary, indent=1))
    return 0


def add_build(sub) -> None:
    p = sub.add_parser("build", help="build an exported config's model and save it as .keras")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True, metavar="MODEL.keras")
    add_set_argument(p, "the config")
    add_allow_large(p)


def run_build(args) -> int:
    from resnet_nas.retrain import build_config

    print(json.dumps(build_config(args.config, args.out, sets=tuple(args.set),
                                   allow_large=args.allow_large), indent=1))
    return 0
