"""Pictures: the territory background of an epoch and static PNG frames / GIF of a run."""
