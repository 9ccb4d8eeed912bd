"""vcf-pg-loader control plane: stage encrypted VCF lines, ingest them in PostgreSQL."""

__version__ = "0.2.0"
EXTENSION_VERSION = "0.2.0"
