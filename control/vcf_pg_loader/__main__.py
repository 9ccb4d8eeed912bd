"""python -m vcf_pg_loader: the same as vcfctl."""

from .cli import main

main()
