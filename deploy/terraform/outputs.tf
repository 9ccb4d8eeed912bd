output "kms_key_arn" {
  description = "VCF_PG_LOADER_KMS_KEY_ID / vcfctl --kms-key-id (also the storage and secret key)."
  value       = aws_kms_key.phi.arn
}

output "kms_alias" {
  description = "Alias of the customer-managed key."
  value       = aws_kms_alias.phi.name
}

output "db_instance_id" {
  description = "vcfctl compliance check --rds-instance."
  value       = aws_db_instance.this.identifier
}

output "db_endpoint" {
  description = "Host name for VCF_PG_LOADER_DB_URL (TLS verify-full checks it)."
  value       = aws_db_instance.this.address
}

output "db_port" {
  description = "Database port."
  value       = aws_db_instance.this.port
}

output "db_secret_arn" {
  description = "vcfctl --db-secret-id: the master user's credentials."
  value       = aws_secretsmanager_secret.master.arn
}

output "loader_policy_arn" {
  description = "IAM policy of the loader (rds-db:connect, staging keys only)."
  value       = aws_iam_policy.loader.arn
}

output "server_policy_arn" {
  description = "IAM policy of the server role (unwrapping staging and phi keys)."
  value       = aws_iam_policy.server.arn
}
