"""Trust between agents and the collector: a small CA, agent identities, enrolment and admission."""
