"""The ``vidalign`` command: one module per subcommand group."""
