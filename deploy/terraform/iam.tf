# The IAM split of docs/security.md ("The IAM split with aws-kms"): the loader
# may only generate staging keys; kms:Decrypt on purpose = phi is the
# server's (or the PHI readers').

data "aws_iam_policy_document" "loader" {
  statement {
    sid       = "ConnectWithIamAuth"
    effect    = "Allow"
    actions   = ["rds-db:connect"]
    resources = ["arn:${local.partition}:rds-db:${var.region}:${local.account_id}:dbuser:${aws_db_instance.this.resource_id}/${var.loader_db_user}"]
  }

  statement {
    sid       = "StageOnly"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.phi.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:purpose"
      values   = ["staging"]
    }
  }
}

data "aws_iam_policy_document" "server" {
  statement {
    sid       = "ServerUnwrapAndGenerate"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.phi.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:purpose"
      values   = ["staging", "phi"]
    }
  }
}

resource "aws_iam_policy" "loader" {
  name        = "${var.name}-loader"
  description = "vcf-pg-loader loader: rds-db:connect as ${var.loader_db_user}, kms:GenerateDataKey for staging keys only"
  policy      = data.aws_iam_policy_document.loader.json
  tags        = var.tags
}

resource "aws_iam_policy" "server" {
  name        = "${var.name}-server"
  description = "vcf-pg-loader server: kms:Decrypt and kms:GenerateDataKey for staging and phi keys"
  policy      = data.aws_iam_policy_document.server.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "loader" {
  count = var.loader_role_name == null ? 0 : 1

  role       = var.loader_role_name
  policy_arn = aws_iam_policy.loader.arn
}

resource "aws_iam_role_policy_attachment" "server" {
  count = var.server_role_name == null ? 0 : 1

  role       = var.server_role_name
  policy_arn = aws_iam_policy.server.arn
}
