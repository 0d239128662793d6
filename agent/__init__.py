"""ronda-agent: discovers the web apps on one server and reports them to a collector."""
