"""vcf-pg-loader control plane: stage encrypted VCF lines, ingest them in PostgreSQL."""

__version__ = "0.4.0"
EXTENSION_VERSION = "0.4.0"
