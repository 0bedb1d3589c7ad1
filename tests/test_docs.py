"""The docs name only spaces that exist (a newcomer copies these commands)."""

import re

from resnet_nas.space import shipped_space_paths
from tests.helpers import REPO


def test_every_space_named_in_the_docs_is_shipped():
    names = set(shipped_space_paths())
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        used = set(re.findall(r"resnet_nas search ([a-z_]\w*)(?![\w./])", text))
        assert used, doc
        assert used <= names, f"{doc.name}: {sorted(used - names)} are not shipped spaces"
