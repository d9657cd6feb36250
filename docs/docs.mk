## docs: RelaxNG schemas (installed) and documentation
