variable "region" {
  description = "AWS region of the deployment."
  type        = string
}

variable "name" {
  description = "Name prefix of every resource (instance identifier, parameter group, secret, policies)."
  type        = string
  default     = "vcf-pg-loader"
}

variable "vpc_id" {
  description = "VPC of the database's security group."
  type        = string
}

variable "db_subnet_ids" {
  description = "Private subnets (at least two availability zones) of the DB subnet group."
  type        = list(string)
}

variable "allowed_cidr_blocks" {
  description = "Networks that may reach the database port (5432). Never 0.0.0.0/0 or ::/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_cidr_blocks : !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "The database port must not be open to the internet (0.0.0.0/0 or ::/0)."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups (the loaders' and readers' hosts) that may reach the database port."
  type        = list(string)
  default     = []
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage in GiB; storage autoscaling may grow it to max_allocated_storage."
  type        = number
  default     = 100
}

variable "max_allocated_storage" {
  description = "Upper bound of storage autoscaling in GiB."
  type        = number
  default     = 1000
}

variable "db_name" {
  description = "The database the extension is installed in."
  type        = string
  default     = "genomics"
}

variable "master_username" {
  description = "RDS master user: a member of rds_superuser, the role that runs vcfctl db install (vcf_owner in docs/deploy-aws.md)."
  type        = string
  default     = "vcf_owner"
}

variable "loader_db_user" {
  description = "Database login of the loader (IAM authentication: GRANT rds_iam TO it; vcfctl roles grant vcf_loader to it)."
  type        = string
  default     = "vcf_loader_login"
}

variable "backup_retention_period" {
  description = "Days of automated backups; the compliance check requires at least 7."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_period >= 7
    error_message = "Backups must be retained for at least 7 days (vcfctl compliance check: rds-backup-retention)."
  }
}

variable "loader_role_name" {
  description = "IAM role of the loader (vcfctl stage/load) to attach the loader policy to; null attaches nothing."
  type        = string
  default     = null
}

variable "server_role_name" {
  description = "IAM role that unwraps data keys (the database server's, or the service that unlocks client-side) to attach the server policy to; null attaches nothing."
  type        = string
  default     = null
}

variable "phi_decrypt_principal_arns" {
  description = "The only principals allowed kms:Decrypt with purpose = phi (the server role, PHI readers); empty leaves the key policy without that deny."
  type        = list(string)
  default     = []
}

variable "key_admin_arns" {
  description = "Key administrators (rewrap and rotation: kms:ReEncrypt*, Decrypt, Encrypt, GenerateDataKey)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
