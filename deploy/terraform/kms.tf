data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

# The customer-managed key of the runbook: it encrypts the instance's storage
# and snapshots, the Secrets Manager secret, and wraps vcf-pg-loader's data keys
# (encryption context purpose = staging or phi, see docs/security.md).
resource "aws_kms_key" "phi" {
  description             = "${var.name}: RDS storage, its secret, and vcf-pg-loader data keys"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "phi" {
  name          = "alias/vcf-phi"
  target_key_id = aws_kms_key.phi.key_id
}

data "aws_iam_policy_document" "key" {
  # Without this statement no IAM policy (the loader's, the server's) would
  # take effect on the key.
  statement {
    sid       = "EnableIAMPolicies"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = length(var.key_admin_arns) > 0 ? [1] : []

    content {
      sid       = "KeyAdminRewrapAndRotation"
      effect    = "Allow"
      actions   = ["kms:ReEncrypt*", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = var.key_admin_arns
      }
    }
  }

  # The runbook's key policy: kms:Decrypt on purpose = phi for the database
  # server's role (or the PHI readers) and the key admins only. RDS and Secrets
  # Manager use other encryption contexts, so this does not touch them.
  dynamic "statement" {
    for_each = length(var.phi_decrypt_principal_arns) > 0 ? [1] : []

    content {
      sid       = "PhiDecryptOnlyForServerAndReaders"
      effect    = "Deny"
      actions   = ["kms:Decrypt"]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = ["*"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:purpose"
        values   = ["phi"]
      }

      condition {
        test     = "ArnNotLike"
        variable = "aws:PrincipalArn"
        values   = concat(var.phi_decrypt_principal_arns, var.key_admin_arns)
      }
    }
  }
}
