"""The image-folder layout: which files are images, and which folders are which split.

    train/<class>/*.{jpg,jpeg,png}       the training split (the search's validation split is
                                         held out of it)
    test/<class>/*  (or validation/, val/)  the evaluation split, for the final test only

A directory may hold the layout itself or in one wrapping folder (as archives unpacked by hand
often do). When several evaluation folders exist, the first of EVAL_SPLIT_DIRS is used.
"""

from __future__ import annotations

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: Folder names of the evaluation split, in order of preference.
EVAL_SPLIT_DIRS = ("test", "validation", "val")


def is_image_name(name: str) -> bool:
    """An image file by its extension; hidden files (macOS '._x.jpg' resource forks, which tar
    archives often carry) are not."""
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)
