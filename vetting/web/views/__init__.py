"""Site pages (the interface layer): thin views over the domain selectors and services."""
