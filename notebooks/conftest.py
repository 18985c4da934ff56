"""The tutorials' jupytext sources are notebooks, not modules: collecting them (for example with
``pytest --doctest-modules notebooks``) would run a whole tutorial at import. nbmake runs the
``.ipynb`` files instead (``pytest --nbmake notebooks``)."""

collect_ignore_glob = ["[0-9]*.py"]
