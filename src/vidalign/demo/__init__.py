"""``vidalign demo``: the paper's experiment in miniature on the synthetic world."""
