"""Option values shared by the command line and the modules that implement them (kept in a
dependency-free module so building the CLI parser imports neither pandas nor scipy)."""

FORMATS = ("text", "markdown")
NORMALIZE_CHOICES = ("none", "params", "flops")
