"""Placeholder for optree.utils: Keras imports the module but uses nothing from it."""
