"""ronda-agent: discovers the web apps on one server and reports them to a collector."""

__version__ = "0.1.0"
